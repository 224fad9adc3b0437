"""Widened held-out inputs: the pool's own inputs varied by kind, where a wrong fix written to
the pool's few shapes shows (docs/sandbox-and-verdicts.md, "The verdict").

A pool drawn from a few shapes never holds the input that tells a wrong fix from the
reference when the fix is wrong only outside those shapes (round 25): a parse_query keeping a
repeated key's first value meets no repeated key; a word_counts of ASCII letter runs meets no
"don't", no digit, no "café"; an LRU cache taking a stored None for a missing key meets
int values only, and capacity 0 never; an unstable sort meets no tie that shows (ints only); a
running total meets no float whose error it keeps (r25v-6); a dedupe keyed on ``str(item)``
meets no list holding 1 and "1" (r24v-4); a recursive merge meets no list past ~1,000 items
(r25v-12). Each kind below is one such class, made from the
pool's inputs themselves (their lists, strings, scripts), deterministic per task (drawn with
the sample's own seed), and answered by the reference: its answers are the truth; an input
where the reference raises is compared like any raising call.

Every kind asks something the pool never asked, so a task asks for the kinds its goal admits
(``Differential.widen``); none is on by default: a generated task's pool is the only
statement of its domain, and an honest fix written another way may answer an input outside
it otherwise than the reference (a gcd on floats, a roman numeral in lower case):

- ``ties``: a list of numbers with one element made an equal number of the other type
  (``[3, 1, 3]`` -> ``[3, 1, 3.0]``): where equal items go (stability) and which is kept;
- ``floats``: a list of numbers as floats with fractional parts, one of the pool's largest
  magnitude first: an answer carried through a running float total keeps its rounding; a
  number argument with more places than the pool's (an answer rounded for display shows);
- ``small``: a list of numbers as floats with fractional parts, divided by ``_SCALE``
  (1e12): an answer rounded to fixed places loses them (round 31 r27v-4), where the
  comparison's absolute tolerance scales with a call's floats below 1;
- ``text``: a string with words of another make (an inner apostrophe, digits, letters past
  ASCII, upper case) and words as the punctuation meets them (quoted, hyphenated, an
  apostrophe closing one), its separators doubled (r26v-8: words as runs of word characters
  and apostrophes kept a quoted word's quotes and split a hyphenated one);
- ``characters``: a string with characters of every class the pool's may lack inserted and
  substituted (round 29 r29v-3, r29v-4, r29v-6: a parse_query splitting on ``;`` too, a
  word_counts keeping ``\r`` in words, one dropping an ``=x`` pair, each PASSed, the pool's
  texts holding letters, digits, ``&``, ``=`` and `` \t\n`` only): runs of ``_ALPHABET``
  (ASCII punctuation, every Unicode white space, controls, letters past ASCII; none the pool
  holds anywhere, so no separator of its make; ``+`` and ``%`` only where the pool holds white space: r30v-2) put at each word's end,
  and inside each word, every character of it in each such text; each white space of the text made another
  (``\r\n``, ``\r``, ``\x0c``, ``\xa0``, ...); an empty piece before a separator (a pair
  ``=x`` with no key), once per text, so no key is repeated with another value;
- ``repeats``: a script's calls repeated on arguments it used already: after each store (a
  method the pool always calls with two or more arguments) from the second on, its key stored
  again with the previous store's value (a held key updated, the most recent one, while the
  object is full: r29v-2, a put evicting before it stores even for a held key lost another
  one); and the script
  followed by a read (a method the pool calls with one argument) of every key it met, in the
  order first met (reads after evictions); ``REPEATED_MAX`` per target;
- ``values``: a script's stored values (the last argument of a method taking two or more)
  made None, 0, False and ""; a script's keys made 1, "1", -1, -2, ... (equal to none of
  the others, alike as text or as a hash: r27v-1); a list of ints holding the string of an
  item beside it, and one holding -1, -2, 0 and 2**61 - 1 (one hash: r27v-14);
- ``edges``: the edge shapes of an input's own parameters: a script's integer constructor
  arguments (a capacity, a size) at 0 and 1; a plain input's list empty, and a count of its
  items (an int argument the pool keeps within 1 and the list's length: a window, a k-th)
  one past its length (r26v-1: a moving average answering ``[sum(xs) / k]`` where no window
  fits, and ``[0.0]`` for ``[]``);
- ``sizes``: a list argument of 3,000 items, a pool list's own repeated, and one of its items
  in the reverse order just past a power of two (``_PAST_A_POWER``: a path taken past 4,096
  items and wrong past twice that, r26v-9), two per target;
- ``ordered``: a list of ints and the int arguments beside it as strings that order alike
  (zero-padded offsets): a sorted list of any ordered items, where a comparison by
  subtraction raises (r27v-3); three per target;
- ``aliases``: a list argument holding one of its list items twice more, the three one list
  object (``[row] * 3``; the runner makes an input's equal lists one, ``aliased_inputs``):
  code keeping the lists it met by id() skips a row met again (r27v-13); two per target;
- ``depth``: inputs a loop answers at once and a recursion per element cannot: each int
  argument an int of ``DEEP_BITS`` bits (a recursion per bit, or per Euclid step), a list
  argument of 3,000 items (a recursion per item); asked as variants (``deep_inputs``), left
  out where the reference raises at them (its own recursion), so an honest fix recursing
  where the reference does is never asked past it (round 27 r27v-7, r27v-10, r27v-11); and,
  where the pool's lists hold lists, one chain ``NESTED`` levels deep (round 30 r30v-15);
- ``length``: a string argument of ``LONG_PARTS`` parts of its own make (words again; a
  query's pairs again, each key numbered), asked as ``depth``'s are (round 30 r30v-13: a
  parse_query recursing once a pair; r31v-20: one cutting a query at 4,096 pairs), and one
  whose first word is ``LONG_WORD`` letters (r31v-1: a word_counts dropping words past 30).

Bounded: at most ``PER_KIND`` inputs of a kind per target, ``MAX_WIDENED`` in all.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterator
from itertools import cycle, islice, zip_longest
from typing import Any

from agent.suites.models import WidenKind

PER_KIND = 8
MAX_WIDENED = 32
_FLOAT_MAX = 1e300
_EXACT = 2**53  # an int past it has no equal float: no tie of the two types to make

# Words a text function meets from its callers and a pool of fixed words may never hold: of
# another make, and as punctuation meets a word in prose (quoted, hyphenated, a possessive's
# closing apostrophe), never a ``+`` or ``%`` a query string decodes (round 26, finding 41).
_OTHER_WORDS = ("Don't", "42", "3rd", "café", "NAÏVE", "l'été", "'quoted'", '"said"', "well-known", "dogs'")
# Every white space ``str.split()`` parts words at (``str.isspace``), a pool's `` \t\n`` last.
_SPACES = tuple(c for c in map(chr, range(0x3001)) if c.isspace() and c not in " \t\n") + (" ", "\t", "\n")
_CONTROLS = ("\x00", "\x07", "\x1b", "\x7f", "\u200b")  # not white space: never parts a word
_LETTERS = ("é", "Ü", "Ω", "я", "中")  # letters past ASCII (their case: a word's fold, if any)


def one_caseless_form(c: str) -> bool:
    """``c`` folds alike by every case mapping Python offers (``lower``, ``casefold``, ``upper``
    then either): a text of such characters is counted alike by any honest case-insensitive
    fix. ß folds to "ss" by ``casefold`` and not by ``lower`` (round 30 r30v-12: an honest
    word_counts by casefold was FAIL where the reference lowers); which of the two a
    case-insensitive contract means no task says, so no widened text holds such a letter."""
    return c.lower() == c.casefold() == c.upper().lower() == c.upper().casefold()


# Every ASCII punctuation character (round 30 r30v-2: a word_counts keeping ``+`` and ``%`` on
# words, "C++" apart from "c", PASSed while both were left out), the classes interleaved, so
# each class meets a text within a few words. ``+`` and ``%`` are a query string's encoding (a
# space, an escape) that an honest parse_qsl decodes (round 26's finding is no finding): left
# out of a pool's texts with no white space anywhere (a query, a record: ``_QUERY_ENCODING``).
_PUNCTUATION = tuple(string.punctuation)
_QUERY_ENCODING = frozenset("+%")
_ALPHABET = tuple(
    c
    for row in zip_longest(_PUNCTUATION, _SPACES, _CONTROLS * 6, _LETTERS * 6)
    for c in row
    if c is not None and one_caseless_form(c)
)
_FALSY = (None, 0, False, "")
# Ints whose hashes are one in CPython (hash(-1) is the C error value -1, hash(-2) is -2 too;
# hashes of ints are modulo 2**61 - 1): items a set keeps apart and a key of hash() merges.
_COLLIDING = (-1, -2, 0, 2**61 - 1)
# Keys no two equal, alike as text (1 and "1") or as a hash (-1 and -2; 0 and 2**61 - 1).
_KEYS = (1, "1", -1, -2, 0, 2**61 - 1, "-1", "0")
# Small fractions, exact in binary and not, that a running total carried past a large value loses.
_FRACTIONS = (0.5, 0.25, 0.125, 0.1, 0.2, 0.3, 0.375, 0.7)
_PLACES = (0.1234567, 0.0004321)  # more places than a pool of one or two
# A list past every size a pool holds (a recursion per item, a "fast path" for large inputs),
# of the pool list's own items; two per target: each costs the run thousands of steps.
_LONG = 3000
# A list just past a power of two: a path taken past 2**k items shows past 2**(k+1) at the
# latest (runs of 4,096 merged in one pass: sorted up to 8,192 items, r26v-9), and a lone item
# past a power is a run of its own. Bounded by the per-call limit (agent/differential.py
# PER_CALL_S, 2 s): the reference mergesort answers 16,385 items in ~0.13 s on a busy machine,
# a fifteenth of it, so an honest sort several times slower is still answered; a path taken
# only past 2**14 items is past this bound (docs/sandbox-and-verdicts.md).
_PAST_A_POWER = 2**14 + 1


# An int past every size a pool holds, answered by a loop in microseconds: a recursion once a bit
# (``bitcount(n >> 1)``) goes ~4,096 deep, Euclid written recursively ~2,400 deep on two of
# them drawn at random (~0.84 ln n steps), each past the interpreter's default limit (1,000).
# Under its default digits limit for str() and JSON (4,300 digits): 4,096 bits is 1,234 digits.
DEEP_BITS = 4096
ORDERED_MAX = 3  # ``ordered`` inputs per target: each is a call of every final run
ALIASED_MAX = 2  # ``aliases`` inputs per target
REPEATED_MAX = 4  # ``repeats`` inputs per target
DEEP_INTS = 2  # inputs with every int argument made one of DEEP_BITS bits, per target
# Levels of nesting of a ``depth`` list (r30v-15): past any fixed count a fix may stop at within
# a pool's few levels, and under the runner's bound on a value's depth (60: the arguments as
# the call left them are read back), so the reference's recursion once a level answers it.
NESTED = 50
# A ``length`` text's parts (r30v-13, r31v-20): past the interpreter's recursion limit (1,000)
# and past every power of two up to 2**14, as ``sizes``'s lists: closes a cut at any count of
# items up to it ("a request's sane bound": a parse_query dropping every pair past the 4,096th
# PASSed at 2,000). Bounded by the run's records: each compared input is asked ~36 times a
# final run (agent/differential.py ``call_sequence``), and the host reads at most 48 MB of
# records a run (agent/record_budget.py RUN_COST_MAX); so the parts repeat the text's own
# (a query's pairs with their own values: no key repeated with another value) and only the
# last round's keys are new: the answer stays the pool's size, where 2**14 new keys were
# ~7.6 MB a record (and past the run's bound). A call costs a loop ~4 ms.
LONG_PARTS = _PAST_A_POWER
# A ``length`` text's one long word (r31v-1): the text's first word repeated to this many
# letters, past every power of two up to 2**14: closes a cut at any length of a word or a key
# up to it (a word_counts dropping words past 30 letters, "URLs, hashes", PASSed: every widened
# word a few letters long). Bounded by the run's records too: the word is a key of the answer,
# ~9 bytes of a record's cost a letter, ~150 kB a record here and ~5 MB of the run's 48 MB
# (2**16 letters would be ~21 MB of it).
LONG_WORD = _PAST_A_POWER
LONG_TEXTS = 1  # source texts per target: each makes one text of LONG_PARTS parts, one of a LONG_WORD word


def deep_inputs(inputs: list[list], kinds: list[WidenKind], *, script: bool) -> list[list]:
    """The ``depth`` and ``length`` inputs of a target whose pool is ``inputs`` (where its task
    asks them): deterministic (drawn from each source input's own JSON), asked as variants: the
    caller marks them so (an input the reference raises at, a recursion of its own, is left out)."""
    if script:
        return []
    out = _long_texts(inputs) if "length" in kinds else []
    if "depth" not in kinds:
        return out
    with_ints = [case for case in inputs if any(_plain_int(v) for v in case)]
    for case in with_ints[:DEEP_INTS]:
        draw = random.Random(_key(case))
        out.append([_deep_int(v, draw) if _plain_int(v) else v for v in case])
    for case in inputs:
        lists = [p for p, v in enumerate(case) if type(v) is list and v]
        if lists:
            xs = case[lists[0]]
            out.append(_with(case, lists[0], [xs[i % len(xs)] for i in range(_LONG)]))
            break
    return out + _nested(inputs) + _diagonal(inputs)


_SAME_TYPED = (int, str, list)  # argument types a function may take two of (JSON's, but bool and float)


def _diagonal(inputs: list[list]) -> list[list]:
    """The equal-arguments diagonal: for each type the pool's inputs hold at two or more
    arguments, one input with those arguments made one value, the pool's largest of them at
    those places; for ints, one more with that value made an int of ``DEEP_BITS`` bits. Closes a
    fix wrong only where two same-typed arguments are equal (round 31 r31v-15's class: a gcd
    answering 1 for gcd(n, n) past a size; the pool's one equal pair is gcd(1, 1), structured
    inputs' largest (10**6, 10**6), a constant), at any size up to the ``depth`` kind's. Equal by value only: the runner builds each argument apart, so a fix
    telling them by identity (``a is b``) is still not asked (docs/sandbox-and-verdicts.md)."""
    out: list[list] = []
    for kind in _SAME_TYPED:
        places = [(case, [p for p, v in enumerate(case) if type(v) is kind]) for case in inputs]
        made = [(_magnitude(case[p]), _key(case), case, at, p) for case, at in places if len(at) >= 2 for p in at]
        if not made:
            continue
        _, _, case, at, p = max(made, key=lambda m: m[:2])
        values = [case[p]] + ([_deep_int(case[p], random.Random(_key(case)))] if kind is int else [])
        out += [[v if q in at else a for q, a in enumerate(case)] for v in values]
    return [case for case in out if case not in inputs]


def _magnitude(v: object) -> int:
    return abs(v) if type(v) is int else len(_key(v))


def _nested(inputs: list[list]) -> list[list]:
    """One input whose list argument, where the pool's lists hold lists (nesting is its
    domain), holds its items as a chain ``NESTED`` levels deep (``[a, [b, [c, ...]]]``): a fix
    taking a fixed number of levels (round 30 r30v-15: a flatten stopping after 16) shows,
    while a recursion once a level, as the reference's, still answers."""
    for case in inputs:
        for p, xs in enumerate(case):
            if type(xs) is list and any(type(v) is list for v in xs):
                items = _leaves(xs) or [0]
                chain: list = [items[-1]]
                for k in range(NESTED):
                    chain = [items[k % len(items)], chain]
                return [_with(case, p, chain)]
    return []


def _leaves(xs: list, depth: int = 0) -> list:
    """``xs``'s items that are no list, at any depth (bounded as the runner's results are)."""
    if depth > NESTED:
        return []
    return [y for v in xs for y in (_leaves(v, depth + 1) if type(v) is list else [v])]


def _long_texts(inputs: list[list]) -> list[list]:
    """For ``LONG_TEXTS`` source inputs, one whose string argument holds ``LONG_PARTS`` parts,
    the text's own repeated (round 30 r30v-13: a parse_query recursing once a pair PASSed, no
    held-out query past a few pairs): a text of words its words again (a count repeats, as a
    caller's does); a text of pairs (no white space, a separator in each part: a query) its
    pairs with each key made another by a number (no key repeated with another value: round 11
    r11-5); and one whose first word is ``LONG_WORD`` letters long (``_long_word``, r31v-1)."""
    out: list[list] = []
    sources = 0
    for case in inputs:
        for p, s in enumerate(case):
            made = _long_text(s) if type(s) is str and s else None
            if made is not None and sources < LONG_TEXTS:
                sources += 1
                out.append(_with(case, p, made))
                word = _long_word(s)
                out += [_with(case, p, word)] if word is not None else []
                break
    return out


def _long_word(s: str) -> str | None:
    """``s`` with its first word (a run of letters and digits; None: it has none) repeated to
    ``LONG_WORD`` characters: a word, or a query's key, of the text's own make, longer than any
    a fix may cut or drop at."""
    start = next((k for k, c in enumerate(s) if c.isalnum()), None)
    if start is None:
        return None
    end = next((k for k in range(start, len(s)) if not s[k].isalnum()), len(s))
    word = s[start:end]
    return s[:start] + (word * -(-LONG_WORD // len(word)))[:LONG_WORD] + s[end:]


def _long_text(s: str) -> str | None:
    separators, outer = _separators(s)
    space = next((c for c in separators if c.isspace()), None)
    if space is not None:  # words: the text again and again, apart by its own white space
        words = len(s.split())
        return space.join([s] * -(-LONG_PARTS // words)) if words else None
    inner = [c for c in separators if c != outer]
    if outer is None or not inner:
        return None
    parts = [part for part in s.split(outer) if part]
    if not parts:
        return None
    # The pairs again as they are (a key met again with its own value: first-wins and last-wins
    # agree), then once with each key numbered (``k`` -> ``k16385``): new keys past every pair
    # before them, a key of the text's own make, none repeated.
    rounds = -(-LONG_PARTS // len(parts))
    keyed = [_split_key(part, inner[0]) for part in parts]
    return outer.join([*parts * rounds, *(key + str(LONG_PARTS) + rest for key, rest in keyed)])


def _split_key(part: str, inner: str) -> tuple[str, str]:
    at = part.find(inner)
    return (part, "") if at < 0 else (part[:at], part[at:])


def aliased_inputs(inputs: list[list], kinds: list[WidenKind], *, script: bool) -> list[list]:
    """The ``aliases`` inputs of a target (where its task asks them): ``ALIASED_MAX`` plain
    inputs whose list argument holds a list item twice more at its end; the caller marks them
    ``shared``, and the runner makes their equal lists one list (``[row] * 3``, a grid's rows
    made the usual way: JSON never holds one list twice)."""
    if script or "aliases" not in kinds:
        return []
    out: list[list] = []
    for case in inputs:
        for p, xs in enumerate(case):
            rows = [v for v in xs if type(v) is list and v] if type(xs) is list else []
            if rows and len(out) < ALIASED_MAX:
                out.append(_with(case, p, [*xs, rows[0], rows[0]]))
                break
    return out


def _plain_int(v: object) -> bool:
    return type(v) is int


def _deep_int(v: int, draw: random.Random) -> int:
    """An int of DEEP_BITS bits (its top bit set) of ``v``'s sign: a pool of non-negative
    integers is asked none other."""
    n = draw.getrandbits(DEEP_BITS) | (1 << (DEEP_BITS - 1))
    return -n if v < 0 else n


def widened_inputs(
    inputs: list[list],
    kinds: list[WidenKind],
    rng: random.Random,
    *,
    script: bool,
    refusable: list[bool] | None = None,
) -> list[list]:
    """The widened inputs of a target whose pool is ``inputs``, for the ``kinds`` its task
    asks, none already in the pool; drawn with ``rng`` (the sample's: the same every run).
    ``refusable`` gets one mark per input made: an ``edges`` input of a degenerate shape (a
    list emptied, a count one past its list, a script's size 0), which a fix may refuse."""
    if not inputs or not kinds:
        return []
    sources = list(inputs)
    rng.shuffle(sources)
    seen = {_key(i) for i in inputs}
    out: list[list] = []
    for kind in kinds:
        made = 0
        for case in _MAKERS[kind](sources, inputs, script):
            if made >= PER_KIND or len(out) >= MAX_WIDENED:
                break
            key = _key(case)
            if key not in seen:
                seen.add(key)
                out.append(case)
                made += 1
                if refusable is not None:
                    refusable.append(kind == "edges" and (not script or 0 in case[0]))
    return out


def _key(value: Any) -> str:
    # 1 and 1.0 and True are one list element to ==: keyed by their JSON (1, 1.0, true) apart.
    return json.dumps(value)


def _ints(xs: object) -> bool:
    return type(xs) is list and bool(xs) and all(type(v) is int for v in xs)


def _numbers(xs: object) -> bool:
    return type(xs) is list and bool(xs) and all(_number(v) for v in xs)


def _positions(sources: list[list], script: bool, match: Callable[[object], bool]) -> Iterator[tuple[list, int]]:
    """Each (plain input, argument position) whose argument ``match`` says is of the kind."""
    if script:
        return
    for case in sources:
        for p, arg in enumerate(case):
            if match(arg):
                yield case, p


def _with(case: list, p: int, arg: object) -> list:
    return [*case[:p], arg, *case[p + 1 :]]


def _ties(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    for case, p in _positions(sources, script, _ints):
        xs = case[p]
        exact = [i for i, v in enumerate(xs) if abs(v) <= _EXACT]
        if len(exact) < 2:  # one element: no tie
            continue
        first, last = exact[0], exact[-1]
        later = list(xs)
        later[last] = float(xs[first])  # the equal float after the int: a stable sort keeps int first
        yield _with(case, p, later)
        earlier = list(xs)
        earlier[first] = float(xs[last])  # the equal float before the int
        yield _with(case, p, earlier)


def _floats(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    columns: dict[int, list[float]] = {}
    for case in inputs:
        for p, arg in enumerate(case if not script else []):
            if _numbers(arg):
                columns.setdefault(p, []).extend(arg)
            elif _number(arg):
                columns.setdefault(p, []).append(arg)
    rows: list[list[list | None]] = []
    for case, p in _positions(sources, script, lambda a: _numbers(a) or _number(a)):
        lo, hi = min(columns[p]), max(columns[p])
        if _number(case[p]):  # a scalar with more places than the pool's: a rounded answer shows
            rows.append([_with(case, p, _inside(float(case[p]) + f, lo, hi)) for f in _PLACES])
            continue
        small = [_inside(float(v) + f, lo, hi) for v, f in zip(case[p], _cycle(len(case[p])), strict=True)]
        row: list[list | None] = [_with(case, p, small)]
        if len(small) >= 2:
            large = max((lo, hi), key=abs)
            row.append(_with(case, p, [float(large)] + [_inside(f, lo, hi) for f in _cycle(len(small) - 1)]))
        rows.append(row)
    yield from _round_robin(rows)


# Below any pool's scale (round 31 r27v-4: a moving_average rounding each average to 9 places
# answered 0.0 for averages of 1e-12; the comparison's absolute tolerance scales with such a
# call's floats, agent/differential.py ``_absolute``). Scaled down only: a float's error in an
# honest running total scales with it, where one large value first (``floats``) keeps its
# rounding in every later window, which an honest O(n) running total does too.
_SCALE = 1e12


def _small(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    """A pool list of numbers made floats (with fractional parts) divided by ``_SCALE``."""
    for case, p in _positions(sources, script, _numbers):
        xs = case[p]
        yield _with(case, p, [(float(v) + f) / _SCALE for v, f in zip(xs, _cycle(len(xs)), strict=True)])


def _number(v: object) -> bool:
    # Finite and inside float's range: an int past it has no float to be made (OverflowError).
    return (type(v) is int or type(v) is float) and abs(v) < _FLOAT_MAX


def _sizes(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    distinct = _positions(sources, script, lambda xs: type(xs) is list and len({_key(v) for v in xs}) >= 2)
    for case, p in distinct:
        xs = case[p]
        firsts: dict[str, object] = {}
        for v in xs:
            firsts.setdefault(_key(v), v)  # by first appearance
        # Its items first seen in one order, then in the other: a set (or a sort) of its own has
        # at most one of the two, so a "fast path" answering in its order agrees with neither.
        backwards = [*reversed(firsts.values()), *xs]
        for long, size in ((xs, _LONG), (backwards, _PAST_A_POWER)):
            yield _with(case, p, [long[i % len(long)] for i in range(size)])
        return


def _cycle(n: int) -> list[float]:
    return [_FRACTIONS[i % len(_FRACTIONS)] for i in range(n)]


def _inside(v: float, lo: float, hi: float) -> float:
    return min(max(v, float(lo)), float(hi))


def _text(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    strings = list(_positions(sources, script, lambda s: type(s) is str and s != ""))
    yield from _round_robin([list(_text_variants(case, p)) for case, p in strings])


def _text_variants(case: list, p: int) -> Iterator[list | None]:
    s: str = case[p]
    separators, outer = _separators(s)
    # Words apart as the text has them: by its commonest white space, else by its pairs' separator.
    sep = next((c for c in separators if c.isspace()), outer or " ")
    # No segment repeated with another value: which value a repeated key keeps is what no task
    # says (round 11 r11-5: an honest parse_query keeping the first, as werkzeug's MultiDict
    # reads a query, was FAIL; round 25's r25v-1 asked it again and is no finding).
    yield _with(case, p, sep.join([s, *_OTHER_WORDS]))
    yield _with(case, p, s.upper()) if any(c.isalpha() for c in s) and s.upper() != s else None
    yield _with(case, p, "".join(c * 2 if c == sep else c for c in s)) if separators else None


def _characters(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    strings = list(_positions(sources, script, lambda s: type(s) is str and s != ""))
    # Inserted characters are none of the pool's (at no argument): no new separator of the
    # pool's make (a query's ``&``, ``=``), so no pair is made or merged, no key repeated.
    pool = {c for case in inputs if not script for a in case if type(a) is str for c in a}
    prose = any(c.isspace() for c in pool)  # words apart by white space: no query's encoding
    alphabet = [c for c in _ALPHABET if c not in pool and (prose or c not in _QUERY_ENCODING)]
    yield from _round_robin([list(_character_variants(case, p, alphabet)) for case, p in strings])


def _character_variants(case: list, p: int, alphabet: list[str]) -> Iterator[list | None]:
    s: str = case[p]
    ends = [k for k, c in enumerate(s) if c.isalnum() and (k + 1 == len(s) or not s[k + 1].isalnum())]
    starts = [k for k, c in enumerate(s) if c.isalnum() and (k == 0 or not s[k - 1].isalnum())]
    inside = [k for k in starts if k not in ends]  # a word's first letter of two or more

    def put(after: list[int]) -> str:
        # A run of characters at each place, enough that the text holds every one of them.
        run = -(-len(alphabet) // max(1, len(after)))
        out = []
        for k, c in enumerate(s):
            out.append(c)
            if k in after:
                out.extend(next(drawn) for _ in range(run))
        return "".join(out)

    drawn = cycle(alphabet)  # on from where the last place stopped: each one in the text
    yield _with(case, p, put(ends)) if ends and alphabet else None  # at each word's end: "apple;[" "kz;\r=1"
    made = cycle(_SPACES[:-3])
    spaced = "".join(next(made) if c.isspace() else c for c in s)
    yield _with(case, p, spaced) if spaced != s else None  # "a\r\nb", "a\x0cb", "a\xa0b"
    yield _with(case, p, put(inside)) if inside and alphabet else None  # inside a word: "k;z"
    separators, outer = _separators(s)
    if outer is not None and spaced == s:  # a text of pairs (no white space): a query, a record
        parts = s.split(outer)
        # An empty piece before the pairs' other separator, in the first segment only (the one
        # key ``""`` of the text), where no segment starts with it already: ``=x``.
        inner = [c for c in separators if c != outer and not any(part.startswith(c) for part in parts)]
        yield _with(case, p, outer.join([inner[0] + parts[0], *parts[1:]])) if inner else None


def _round_robin(rows: list[list[list | None]]) -> Iterator[list]:
    """``rows``: each source's variants, by variant (None: none made). Each variant in turn,
    on the sources in turn: the first variant of one source, the second of the next one that
    has it, ..., so every variant is made within a kind's few inputs, on several sources."""
    variants = max((len(r) for r in rows), default=0)
    columns = [[r[c] for r in rows if c < len(r) and r[c] is not None] for c in range(variants)]
    for n in range(max((len(c) for c in columns), default=0)):
        for column in columns:
            if n < len(column):
                yield column[n]  # type: ignore[misc]


def _separators(s: str) -> tuple[list[str], str | None]:
    """``s``'s characters that are no letter or digit, commonest first, and the one that parts
    its pairs (``_pairs_share``; None: it has none)."""
    separators = sorted({c for c in s if not c.isalnum()}, key=lambda c: (-s.count(c), c))
    return separators, max(separators, key=lambda c: _pairs_share(s, c, separators), default=None)


def _pairs_share(s: str, outer: str, separators: list[str]) -> float:
    """The share of ``s``'s ``outer``-separated segments holding another separator: the one
    that parts key=value pairs (``&``) holds ``=`` in each, ``=`` the pairs' ``&`` in few."""
    parts = s.split(outer)
    return sum(any(c in part for c in separators if c != outer) for part in parts) / len(parts)


def _values(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    if script:
        for pair in zip_longest(_falsy_stores(sources, inputs), _other_keys(sources, inputs)):
            yield from (case for case in pair if case is not None)  # each in turn: both within PER_KIND
        return
    rows: list[list[list | None]] = []
    for case, p in _positions(sources, script, _ints):
        xs = case[p]
        # An item's str beside it (r24v-4: a key of str), and the ints whose hashes collide
        # (r27v-14: a key of hash()): every item a dict keeps apart, by equality alone.
        rows.append([_with(case, p, [xs[0], str(xs[0]), *xs[1:], str(xs[-1])]), _with(case, p, [*xs, *_COLLIDING])])
    yield from _round_robin(rows)


def _other_keys(sources: list[list], inputs: list[list]) -> Iterator[list]:
    """Scripts whose keys (the first argument of every method the pool calls with a str
    first) are, in the order first met, ``_KEYS``: equal to none of the others and yet alike
    as text or as a hash (1 and "1", -1 and -2), so a store keyed by ``str(key)`` or by
    ``hash(key)`` rather than by the key itself shows (r27v-1)."""
    for case in sources:
        if not _is_script(case):
            continue
        keys: dict[str, object] = {}
        calls = []
        for name, args in case[1]:
            if args and type(args[0]) is str:
                new = keys.setdefault(args[0], _KEYS[len(keys)] if len(keys) < len(_KEYS) else f"k{len(keys)}")
                args = [new, *args[1:]]
            calls.append([name, args])
        if len(keys) >= 2:
            yield [case[0], calls]


def _repeats(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    """Scripts calling again on arguments they used: each store from the second on made again
    with the previous one's value; every key met read at the end (round 29 r29v-2)."""
    if not script:
        return
    arities: dict[str, set[int]] = {}
    for case in inputs:
        for name, args in case[1] if _is_script(case) else []:
            arities.setdefault(name, set()).add(len(args))
    stores = {n for n, a in arities.items() if min(a) >= 2}
    reads = sorted(n for n, a in arities.items() if 1 in a and min(a) == 1)
    rows: list[list[list | None]] = []
    for case in sources:
        if not _is_script(case):
            continue
        calls: list[list] = []
        keys: dict[str, object] = {}
        last: list | None = None
        for name, args in case[1]:
            calls.append([name, args])
            if args:
                keys.setdefault(_key(args[0]), args[0])
            if name in stores:
                if last is not None:
                    # The key just stored (the most recent: never the least recent one of a
                    # full object of two or more) stored again with the previous store's value.
                    calls.append([name, [args[0], *last[1:]]])
                last = args
        again = [case[0], calls] if len(calls) > len(case[1]) else None
        tail = [[reads[0], [k]] for k in keys.values()] if reads and keys else []
        rows.append([again, [case[0], [*case[1], *tail]] if tail else None])
    yield from islice(_round_robin(rows), REPEATED_MAX)


def _falsy_stores(sources: list[list], inputs: list[list]) -> Iterator[list]:
    """Scripts whose stores (a method the pool always calls with two or more arguments: the
    last a value) keep a falsy value, and whose reads (a method the pool calls with one
    argument and with two) pass the pool's own second argument (a default), so a stored
    falsy value answered as the default shows, as does the recency a read of it gives."""
    arities: dict[str, set[int]] = {}
    defaults: dict[str, object] = {}
    for case in inputs:
        for name, args in case[1] if _is_script(case) else []:
            arities.setdefault(name, set()).add(len(args))
            if len(args) == 2:
                defaults.setdefault(name, args[1])
    stores = {n for n, a in arities.items() if min(a) >= 2}
    reads = {n for n, a in arities.items() if a == {1, 2}}
    n = 0
    for case in sources:
        if not _is_script(case):
            continue
        falsy, n = _FALSY[n % len(_FALSY)], n + 1
        calls, stored = [], 0
        for name, args in case[1]:
            if name in stores:
                stored += 1
                args = [*args[:-1], falsy] if stored % 2 else args  # every other: the rest keep the pool's
            elif name in reads and len(args) == 1:
                args = [*args, defaults[name]]
            calls.append([name, args])
        if stored:
            yield [case[0], calls]


def _edges(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    if not script:
        yield from _round_robin([list(_past_the_length(case, inputs)) for case in sources])
        return
    for case in sources:
        if not _is_script(case) or not case[0] or not all(type(v) is int for v in case[0]):
            continue
        for edge in (0, 1):
            for p in range(len(case[0])):
                yield [_with(case[0], p, edge), case[1]]


def _past_the_length(case: list, inputs: list[list]) -> Iterator[list | None]:
    """``case`` with each list argument empty, and with each count of a list's items one past
    its length: an int argument every pool input holds within 1 and that list's length (a
    window, a k-th, a chunk) counts its items. The pool's own domain stops at the length; a
    caller's does not (a window longer than the readings has no average)."""
    for p, xs in enumerate(case):
        if type(xs) is not list:
            continue
        yield _with(case, p, []) if xs else None
        for q in _counts_of(inputs, p):
            yield _with(case, q, len(xs) + 1)


def _counts_of(inputs: list[list], p: int) -> list[int]:
    """The positions of the int arguments every input of the pool keeps within 1 and the
    length of its list argument at ``p``."""
    width = {len(case) for case in inputs}
    n = width.pop() if len(width) == 1 else 0
    counts = [q for q in range(n) if q != p]
    return [q for q in counts if all(_counts_items(case[p], case[q]) for case in inputs)] if p < n else []


def _counts_items(xs: object, k: object) -> bool:
    return type(xs) is list and type(k) is int and 1 <= k <= len(xs)


def _is_script(case: list) -> bool:
    return (
        len(case) == 2
        and type(case[0]) is list
        and type(case[1]) is list
        and all(type(c) is list and len(c) == 2 and type(c[0]) is str and type(c[1]) is list for c in case[1])
    )


def _iterables(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    """None here: a list argument as a generator is no JSON input; agent/differential_variants.py
    asks it again so, where the task asks ``iterables``."""
    return iter(())


def _ordered(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    """``ORDERED_MAX`` plain inputs holding a list of ints, with every int (of its lists and its
    own arguments) made a string that orders as the int does (its offset from the input's
    least, zero-padded): a function of ordered items answers them alike, one doing arithmetic
    on them (a comparison by subtraction, r27v-3) raises."""
    made = 0
    for case in sources:
        if made >= ORDERED_MAX or script or not any(_ints(a) for a in case):
            continue
        ints = [v for a in case for v in (a if type(a) is list else [a]) if type(v) is int]
        lo, width = min(ints), len(str(max(ints) - min(ints)))
        yield [[_as_text(v, lo, width) for v in a] if type(a) is list else _as_text(a, lo, width) for a in case]
        made += 1


def _as_text(v: object, lo: int, width: int) -> object:
    """An int as its offset from ``lo`` zero-padded to ``width``: strings order as the ints."""
    return str(v - lo).zfill(width) if type(v) is int else v


def _aliases(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    """None here: ``aliased_inputs`` makes them, marked ``shared`` (no JSON holds a list twice)."""
    return iter(())


def _depth(sources: list[list], inputs: list[list], script: bool) -> Iterator[list]:
    """None here: ``deep_inputs`` makes them, asked as variants (left out where the reference
    raises), never compared as a raising call."""
    return iter(())


_MAKERS: dict[str, Callable[[list[list], list[list], bool], Iterator[list]]] = {
    "ties": _ties,
    "iterables": _iterables,
    "floats": _floats,
    "small": _small,
    "text": _text,
    "values": _values,
    "edges": _edges,
    "sizes": _sizes,
    "depth": _depth,
    "ordered": _ordered,
    "aliases": _aliases,
    "characters": _characters,
    "repeats": _repeats,
    "length": _depth,
}

"""What the differential's runner records as plain data (agent/differential_runner.py) and how
the parent compares what it says of a result besides its value (round 9: vrd9-3, -5, -8,
-14, -15, -22)."""

from __future__ import annotations

import builtins
import collections
import fractions
import json
import time
import typing
from collections import Counter, defaultdict
from decimal import Decimal
from fractions import Fraction

import pytest

from agent import differential
from agent import differential_runner as runner
from agent.differential import CallRun, compare
from agent.suites.models import DifferentialTarget


def _not_plain(x: object) -> bool:
    return "notplain" in runner._encode_or_mark(x)


def test_a_rebound_or_changed_standard_number_class_is_not_plain() -> None:
    # vrd9-15: fractions.Fraction rebound to the fix's class; its objects are no Fraction.
    class Degrees:
        numerator = property(lambda self: 1)
        denominator = property(lambda self: 2)

    real, half = fractions.Fraction, Fraction(1, 2)
    fractions.Fraction = Degrees  # type: ignore[misc]  # the attack's rebinding, undone below
    try:
        assert _not_plain(Degrees())
        assert runner._encode(half) == {"fraction": [0.5]}  # a real Fraction still is one
    finally:
        fractions.Fraction = real  # type: ignore[misc]
    # A method of the standard class set anew is no longer the standard class.
    missing = Counter.__missing__
    Counter.__missing__ = lambda self, key: 1  # type: ignore[method-assign]
    try:
        assert _not_plain(Counter("ab"))
    finally:
        Counter.__missing__ = missing  # type: ignore[method-assign]
    assert runner._encode(Counter("ab")) == {"counter": [{"dict": [["a", 1], ["b", 1]]}]}
    assert runner._encode([Decimal("2.5")]) == {"list": [{"decimal": [2.5]}]}


def test_a_numpy_scalar_is_one_of_numpys_compiled_types_only() -> None:
    # vrd9-22: a workspace package named numpy makes its int64 a Python class (a heap type).
    fake = type("int64", (int,), {"__module__": "numpy", "item": lambda self: int(self)})
    assert _not_plain(fake(6))
    assert not runner._numpy_scalar(fake)
    assert not runner._numpy_scalar(int)  # a static type, but not numpy's


def test_a_defaultdict_travels_as_a_dict_only_with_a_plain_factory() -> None:
    # vrd9-5: defaultdict(lambda: 1) tells every caller an absent word occurs once.
    counts = defaultdict(int, {"a": 2})
    assert runner._encode(counts) == {"dict": [["a", 2]]}
    assert runner._encode(defaultdict(None, {"a": 2})) == {"dict": [["a", 2]]}
    assert _not_plain(defaultdict(lambda: 1, {"a": 2}))
    # r25v-14: a lambda returning a plain factory's own answer as a literal is known by its
    # code (never called): at the top or inside a function, whatever it is named.
    assert runner._encode(defaultdict(lambda: 0, {"a": 2})) == {"dict": [["a", 2]]}
    assert runner._encode(defaultdict((lambda: lambda: [])(), {"a": 2})) == {"dict": [["a", 2]]}
    plain_module = eval(compile("lambda: 0", "textstats.py", "eval", dont_inherit=True))  # no __future__ flag
    assert runner._encode(defaultdict(plain_module, {"a": 2})) == {"dict": [["a", 2]]}
    for other in (lambda: False if 0 else 1, lambda: 0 + 1, lambda *a: 0, lambda **k: 0, lambda x=0: x):
        assert _not_plain(defaultdict(other, {"a": 2})), other
    asked = []
    assert _not_plain(defaultdict(lambda: asked.append(1) or 0, {"a": 2}))
    assert asked == []  # the factory's answer is never asked
    swapped = lambda: 0  # noqa: E731
    swapped.__code__ = (lambda: 1).__code__
    assert _not_plain(defaultdict(swapped, {"a": 2}))
    assert _not_plain(defaultdict(lambda x=1: x, {"a": 2}))


def _kept(t: int, i: int, obj: object) -> tuple:
    """A result or argument as the runner keeps it: with what it read and the nodes it took."""
    nodes = [runner._MAX_NODES]
    return (t, i, obj, runner._encode(obj, 0, nodes), runner._MAX_NODES - nodes[0])


def test_a_result_or_argument_grown_past_its_nodes_is_changed_and_the_others_are_read() -> None:
    # r22v-2: the first result padded with 500,000 items after it was kept spent the bound
    # the reading shared, which broke off before any mark; each is now read within its own
    # nodes as kept: grown past them is a change, and the reading goes on.
    first, second, third = [1, 2], [3, 4], [5, 6]
    kept = [_kept(0, 0, first), _kept(0, 1, second), _kept(0, 2, third)]
    first.extend([None] * 500_000)
    second.clear()
    assert runner._changed_later(kept) == [(0, 0), (0, 1)]
    ticks: list[int] = []
    assert runner._changed_later([_kept(0, 0, [1]), _kept(0, 1, [2])], lambda: ticks.append(1)) == []
    assert ticks == [1, 1]  # a mark of progress may go out after each


def test_a_chain_of_finalisers_burns_before_the_later_reading_or_is_said(monkeypatch) -> None:
    # r22v-3: garbage whose __del__ makes new garbage, a fuse of collections that then empties
    # every result: the runner collects until a collection finds none (the fuse burnt, its
    # change read), and past GC_ROUNDS the chain is said in the finish.
    fuse: list[int] = []
    given = [[1, 2]]

    class Later:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            if fuse:
                fuse.pop()
                Later()
            else:
                given[0].clear()

    fuse.extend(range(50))
    kept = [_kept(0, 0, given[0])]
    Later()
    assert runner._collected_to_quiet() and given[0] == []
    assert runner._changed_later(kept) == [(0, 0)]
    assert runner._collected_to_quiet()  # nothing left to collect: quiet at once
    monkeypatch.setattr(runner, "GC_ROUNDS", 20)
    given[0] = [1]
    fuse.extend(range(100))
    Later()
    try:
        assert not runner._collected_to_quiet() and given[0] == [1]
    finally:
        fuse.clear()
        runner._collect()


def test_the_finish_says_a_chain_of_finalisers_and_it_differs_where_the_reference_has_none() -> None:
    finish = {"k": "finish", "s": 0.1, "threads": 0, "later": [], "garbage": 1}
    run = differential._read_records(b"".join(json.dumps(x).encode() + b"\n" for x in ({"k": "hello"}, finish)))
    assert run.garbage and run.finished
    said = "its objects still made new garbage at each collection after its calls (a chain of finalisers)"
    assert differential.run_differences(run, 0, False) == [said]
    assert differential.run_differences(run, 0, False, ref_garbage=True) == []
    quiet = differential._read_records(b'{"k":"hello"}\n{"k":"finish","s":0.1,"later":[],"garbage":0}\n')
    assert not quiet.garbage and differential.run_differences(quiet, 0, False) == []


def test_a_result_shared_with_a_later_call_or_an_argument_is_recorded() -> None:
    shared: list[int] = []

    def overwritten(xs: list[int]) -> list[int]:
        shared[:] = sorted(xs)
        return shared

    returned = [_kept(0, i, r) for i, r in enumerate(overwritten(xs) for xs in ([2, 1], [9, 8], [5]))]
    assert runner._changed_later(returned) == [(0, 0), (0, 1)]  # the last call's result stays as returned
    fresh = [_kept(0, i, r) for i, r in enumerate(sorted(xs) for xs in ([2, 1], [9, 8]))]
    assert runner._changed_later(fresh) == []
    xs = [1, 2]
    assert runner._argument_returned(xs, [xs], {})
    assert runner._argument_returned(xs, [], {"items": xs})
    assert not runner._argument_returned(list(xs), [xs], {})
    assert not runner._argument_returned((1, 2), [(1, 2)], {})  # an immutable value is no alias


def test_a_shared_result_differs_only_where_the_reference_returns_its_own() -> None:
    target = DifferentialTarget(module="m", function="mergesort", inputs=[[[2, 1]]])
    value = {"v": {"list": [1, 2]}}

    def why(ref: dict, got: dict, unread: frozenset[int] = frozenset()) -> list[str]:
        return compare(
            [target], {(0, 0): ref}, CallRun(hello=True, finished=True, results={(0, 0): got}), 0, unread=unread
        )

    assert why(value, {**value, "later": 1}) == [
        "mergesort#0: later code changed what it returned or left of its arguments"
        " (the reference's stay as the call left them)"
    ]
    assert why(value, {**value, "same": 1}) == [
        "mergesort#0: returned its own argument where the reference returns a new object"
    ]
    assert why({**value, "same": 1, "later": 1}, value) == []  # a copy where the reference shares
    assert why({**value, "same": 1}, {**value, "same": 1}) == []
    assert why(value, {**value, "same": 1}, frozenset({0})) == []  # arguments no test reads
    assert why(value, {"v": {"list": [2, 1]}, "same": 1}) != []


def test_a_result_or_argument_shared_with_an_earlier_caller_is_recorded() -> None:
    # r16-12: one list handed to every caller of [x] (a cache), or one dict (lru_cache).
    shared = runner._Shared()
    cache: dict[int, list[int]] = {}
    first = cache.setdefault(7, [7])
    shared.keep([[7]], 0)  # call 0's arguments
    assert shared.holders(first) == set()
    shared.keep(first, 0)
    assert shared.holders(cache.setdefault(7, [7])) == {0}  # call 1 hands out call 0's list
    assert shared.holders([7]) == set()  # a new list equal to it is its caller's own
    assert shared.holders(((1,), frozenset({2}))) == set()  # nothing anyone can change
    assert shared.holders({"k": [first]}) == {0}  # held deep inside a new container too
    # r16-13: an earlier caller's argument emptied by a later call is read again at the end.
    xs = [3, 1, 2]
    kept = [_kept(0, 0, [xs])]
    xs.clear()
    assert runner._changed_later(kept) == [(0, 0)]


def test_the_references_sharing_in_any_pass_excuses_the_rollouts() -> None:
    value = {"v": {"list": [1, 2]}}
    merged = differential._with_aliasing(value, [{**value, "shared": 1}, {}])
    assert merged == {**value, "shared": 1}
    target = DifferentialTarget(module="m", function="mergesort", inputs=[[[2, 1]]])
    run = CallRun(hello=True, finished=True, results={(0, 0): {**value, "shared": 1}})
    assert compare([target], {(0, 0): value}, run, 0) == [
        "mergesort#0: returned an object another call's caller holds too (the reference's result is new)"
    ]
    assert compare([target], {(0, 0): merged}, run, 0) == []


def test_threads_left_running_are_read_from_the_finish() -> None:
    # r16-14: a thread of the code's own emptying results after the last reading.
    lines = [{"k": "hello"}, {"k": "finish", "s": 0.1, "threads": 1}]
    run = differential._read_records(b"".join(json.dumps(x).encode() + b"\n" for x in lines))
    assert run.threads == 1 and run.finished
    bogus = [{"k": "hello"}, {"k": "finish", "s": 0.1, "threads": "9"}]
    assert differential._read_records(b"".join(json.dumps(x).encode() + b"\n" for x in bogus)).threads == 0


def test_a_later_mark_of_the_finish_is_merged_into_its_call_only() -> None:
    lines = [
        {"k": "hello"},
        {"k": "result", "t": 0, "i": 0, "v": {"list": [1]}},
        {"k": "result", "t": 0, "i": 1, "v": {"list": [2]}},
        # (0, 5): no such call, nothing made up; the rest no mark at all
        {"k": "finish", "s": 0.1, "later": [[0, 0], [0, 5], "0", [0], [0, "1"]]},
        {"k": "finish", "s": 0.1, "later": []},  # a second finish takes no mark back
    ]
    run = differential._read_records(b"".join(json.dumps(x).encode() + b"\n" for x in lines))
    assert run.results == {(0, 0): {"v": {"list": [1]}, "later": 1}, (0, 1): {"v": {"list": [2]}}}
    assert not run.conflicts and run.finished


def test_a_method_answering_where_the_reference_returns_none_differs() -> None:
    # vrd9-14: one script whose every get the reference answers None (an evicted key).
    script = [["put", ["a", 1]], ["put", ["b", 2]], ["put", ["c", 3]], ["get", ["a"]], ["get", ["a"]]]
    target = DifferentialTarget(module="lru", function="LRUCache", script=True, inputs=[[[2], script]])
    ref = {(0, 0): {"v": {"list": [None] * 5}}}

    def run(*answers: list) -> CallRun:
        return CallRun(hello=True, finished=True, results={(0, i): {"v": {"list": a}} for i, a in enumerate(answers)})

    assert compare([target], ref, run([None, None, None, None, 1]), 0) == ["LRUCache#0: returned a different value"]
    assert compare([target], ref, run([True, None, None, None, None]), 0) != []  # put answers nothing
    me = differential.SELF  # a chainable put returns the cache itself (R6-25), as the runner names it
    cache = object()
    assert runner._method_return(cache, cache) == me and runner._method_return(cache, None) is None
    assert compare([target], ref, run([me, me, me, None, None]), 0) == []
    # The cache itself is no answer from a get, which the reference answers from elsewhere.
    hit = [["put", ["a", 1]], ["get", ["a"]]]
    both = target.model_copy(update={"inputs": [[[2], script], [[2], hit]]})
    ref[(0, 1)] = {"v": {"list": [None, 1]}}
    assert compare([both], ref, run([me, me, me, None, me], [me, 1]), 0) == ["LRUCache#0: returned a different value"]


@pytest.mark.parametrize("kind", [collections.OrderedDict, dict])
def test_plain_dicts_still_travel(kind: type) -> None:
    assert runner._encode(kind(a=1)) == {"dict": [["a", 1]]}


def test_a_namedtuple_travels_as_its_tuple_only_while_it_reads_as_one() -> None:
    # vrd9-5's class: the runner reads a namedtuple through tuple.__iter__; one whose own
    # __eq__, __iter__ or a field accessor says otherwise is not the tuple its callers see.
    point = collections.namedtuple("point", "x y", defaults=[0])

    class Named(typing.NamedTuple):
        a: int
        b: str = "z"

        def total(self) -> int:  # a method of its own: no caller of the tuple reads it
            return 1

    assert runner._encode([point(1), Named(1)]) == {"list": [{"tuple": [1, 0]}, {"tuple": [1, "z"]}]}
    lying = type("lying", (point,), {"__eq__": lambda self, other: True, "__hash__": None})
    shadowed = type("shadowed", (point,), {"x": property(lambda self: 9)})
    iterated = type("iterated", (point,), {"__iter__": lambda self: iter([0, 0])})
    assert all(_not_plain(k(1, 2)) for k in (lying, shadowed, iterated))


def test_only_an_idle_standard_pool_worker_is_not_a_running_thread() -> None:
    # r18-4: an honest module-level ThreadPoolExecutor's workers wait on their empty queue
    # (nothing of theirs runs); r16-14's kind, a thread still at work, is counted.
    import concurrent.futures.thread as pool_module
    import sys
    import threading

    busy = threading.Event()
    pool = pool_module.ThreadPoolExecutor(max_workers=2)
    try:
        assert pool.submit(sum, [1, 2]).result() == 3
        workers = set(pool._threads)
        assert workers

        def idle() -> set[int]:
            frames = sys._current_frames()
            return {t.ident for t in workers if t.ident in frames and runner._idle_pool_worker(frames[t.ident])}

        deadline = time.monotonic() + 60  # a bound, so a broken check fails instead of hanging
        while len(idle()) < len(workers):  # each worker back at its wait (a condition, no sleep)
            assert time.monotonic() < deadline, "the pool's workers never reached their wait"
            threading.Event().wait(0.01)
        assert not runner._idle_pool_worker(sys._current_frames()[threading.get_ident()])
        started = threading.Event()
        pool.submit(lambda: (started.set(), busy.wait()))
        assert started.wait(60)
        assert len(idle()) == len(workers) - 1  # the one running its work is counted
        # The same code, compiled by the code under test under the standard file's name but
        # waiting with a timeout (it wakes by itself): not the standard worker's, counted.
        path = pool_module.__file__
        own = open(path, encoding="utf-8").read().replace("work_queue.get(block=True)", "work_queue.get(True, 5)")
        glb: dict[str, object] = {"__name__": "own_pool"}
        exec(compile(own, path, "exec"), glb)
        q = __import__("queue").SimpleQueue()
        t = threading.Thread(target=glb["_worker"], args=(lambda: None, q, None, ()), daemon=True)
        t.start()
        while t.ident not in sys._current_frames():
            threading.Event().wait(0.01)
        assert not runner._idle_pool_worker(sys._current_frames()[t.ident])
        q.put(None)
    finally:
        busy.set()  # a failed assertion never leaves the pool's shutdown waiting on it
        pool.shutdown(wait=False)


def test_the_runner_s_pipe_is_moved_above_the_descriptors_a_plain_script_uses() -> None:
    # r18-5/6: the pipe moved high and its number closed, the lowest free descriptor is the
    # one a plain script's next file gets.
    import os

    r, w = os.pipe()
    try:
        lowest = os.dup(0)
        os.close(lowest)
        moved = runner._aside(w)
        assert 256 <= moved < 896 and not os.get_inheritable(moved)
        with pytest.raises(OSError):
            os.fstat(w)  # its number free again
        os.write(moved, b"x")
        assert os.read(r, 1) == b"x"
        again = os.dup(0)
        assert again == min(lowest, w)
        os.close(again)
        os.close(moved)
    finally:
        os.close(r)


class _ModuleError(Exception):
    class Inner(Exception):
        pass


def test_an_exception_class_is_named_so_only_where_that_name_finds_it() -> None:
    # r22v-4: a class of the code's own saying __module__ "builtins" passed as the builtin
    # ValueError (a caller's ``except ValueError`` misses it).
    own = type("ValueError", (Exception,), {"__module__": "builtins"})  # as at a module's top level

    assert runner._type_name_of(builtins.ValueError) == "ValueError"
    assert runner._type_name_of(own) == "ValueError (a class of its own by that name)"
    assert runner._type_name_of(json.JSONDecodeError) == "json.decoder.JSONDecodeError"
    assert runner._type_name_of(_ModuleError) == f"{__name__}._ModuleError"
    assert runner._type_name_of(_ModuleError.Inner) == f"{__name__}._ModuleError.Inner"
    claims = type("JSONDecodeError", (Exception,), {"__module__": "json.decoder"})
    assert runner._type_name_of(claims).endswith("(a class of its own by that name)")
    lost = type("Gone", (Exception,), {"__module__": "no.such.module"})
    assert runner._type_name_of(lost).endswith("(a class of its own by that name)")


def test_a_counter_with_a_method_of_its_own_on_the_instance_is_not_plain() -> None:
    # r22v-5: ``counts.get = lambda w, d=None: d`` answers the caller's ``counts.get("the", 0)``
    # with 0, while the runner reads dict.items: an instance attribute named as one of the
    # class's is no Counter its callers know; an attribute of another name changes no method.
    counts = Counter("aab")
    assert runner._encode(counts) == {"counter": [{"dict": [["a", 2], ["b", 1]]}]}
    counts.note = "seen"  # type: ignore[attr-defined]
    assert runner._encode(counts) == {"counter": [{"dict": [["a", 2], ["b", 1]]}]}
    counts.get = lambda word, default=None: default  # type: ignore[method-assign]
    assert _not_plain(counts)
    ordered = collections.OrderedDict(a=1)
    ordered.items = lambda: iter(())  # type: ignore[method-assign]
    assert _not_plain(ordered)
    assert _not_plain({"counts": counts})  # inside a plain dict too


def test_a_frozenset_is_no_set() -> None:
    # r23v-1: == says frozenset({"e"}) == {"e"}, but a caller's .add on it raises.
    from agent.differential import same_value

    ref, got = runner._encode({"e", "o"}), runner._encode(frozenset({"o", "e"}))
    assert not same_value(ref, got, 0.0) and not same_value(got, ref, 0.0)
    assert same_value(got, runner._encode(frozenset({"e", "o"})), 0.0)
    assert same_value(ref, runner._encode({"o", "e"}), 0.0)

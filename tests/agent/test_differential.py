"""The held-out differential verdict (agent/differential.py): honest fixes written another
way than the reference agree with it, the comparison rules, the seeded sample."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest

from agent import differential
from agent.differential import CallRun, DifferentialError, run_calls, same_value
from agent.suites.loading import load_suite
from agent.suites.models import DifferentialTarget, Suite

# Correct fixes written differently than the reference (module -> variants). Each must agree
# with the reference fix on every held-out input: a false FAIL here is a broken comparison.
HONEST: dict[str, list[str]] = {
    "fix_gcd": [
        "import math\n\ndef gcd(a, b):\n    return math.gcd(a, b)\n",
        # Binary (Stein's) gcd, a loop: the recursive Euclid is no honest fix of a task whose
        # integers have 1,234 digits (round 27 r27v-10, its ``depth`` inputs).
        "def gcd(a, b):\n    if a == 0 or b == 0:\n        return a or b\n"
        "    shift = ((a | b) & -(a | b)).bit_length() - 1\n    a >>= (a & -a).bit_length() - 1\n"
        "    while b:\n        b >>= (b & -b).bit_length() - 1\n        if a > b:\n            a, b = b, a\n"
        "        b -= a\n    return a << shift\n",
    ],
    "fix_bitcount": [
        "def bitcount(n):\n    return bin(n).count('1')\n",
        "def bitcount(n):\n    c = 0\n    while n:\n        c += n & 1\n        n >>= 1\n    return c\n",
    ],
    "fix_celsius": [
        "def fahrenheit_to_celsius(f):\n    return (f - 32) / 1.8\n\n"
        "def celsius_to_fahrenheit(c):\n    return 32 + 1.8 * c\n",
    ],
    "fix_dedupe": [
        "def dedupe(items):\n    seen, out = [], []\n    for x in items:\n"
        "        if x not in seen:\n            seen.append(x)\n            out.append(x)\n    return out\n",
        "from collections import OrderedDict\n\ndef dedupe(items):\n    return list(OrderedDict.fromkeys(items))\n",
    ],
    "fix_fizzbuzz": [
        "def fizzbuzz(n):\n    s = ('Fizz' if n % 3 == 0 else '') + ('Buzz' if n % 5 == 0 else '')\n    return s or str(n)\n",
    ],
    "fix_flatten": [
        "def flatten(xs):\n    out, stack = [], [iter(xs)]\n    while stack:\n        for x in stack[-1]:\n"
        "            if isinstance(x, list):\n                stack.append(iter(x))\n                break\n"
        "            out.append(x)\n        else:\n            stack.pop()\n    return out\n",
    ],
    "fix_binsearch": [
        "from bisect import bisect_left\n\ndef find(xs, target):\n    i = bisect_left(xs, target)\n"
        "    return i if i < len(xs) and xs[i] == target else -1\n",
    ],
    "fix_lru_cache": [
        "class LRUCache:\n    def __init__(self, capacity):\n        self.capacity, self.d = capacity, {}\n\n"
        "    def get(self, key, default=None):\n        if key not in self.d:\n            return default\n"
        "        self.d[key] = self.d.pop(key)\n        return self.d[key]\n\n"
        "    def put(self, key, value):\n        self.d.pop(key, None)\n        self.d[key] = value\n"
        "        if len(self.d) > self.capacity:\n            del self.d[next(iter(self.d))]\n",
    ],
    "fix_mergesort": ["def mergesort(xs):\n    return sorted(xs)\n"],
    "fix_moving_average": [
        # The O(n) running total, with no first window where none fits (r26v-1: the same
        # one answering [sum(xs) / k] past the list was kept here as honest until round 26).
        "def moving_average(xs, k):\n    if k > len(xs):\n        return []\n    out, s = [], sum(xs[:k])\n"
        "    out.append(s / k)\n    for i in range(k, len(xs)):\n        s += xs[i] - xs[i - k]\n"
        "        out.append(s / k)\n    return out\n",
    ],
    "fix_parse_query": [
        "def parse_query(qs):\n    out = {}\n    for part in filter(None, qs.split('&')):\n"
        "        k, _, v = part.partition('=')\n        out[k] = v\n    return out\n",
    ],
    "fix_roman": [
        "def roman_to_int(s):\n    v = {'I': 1, 'V': 5, 'X': 10, 'L': 50, 'C': 100, 'D': 500, 'M': 1000}\n"
        "    total, prev = 0, 0\n    for ch in reversed(s):\n        x = v[ch]\n"
        "        total += -x if x < prev else x\n        prev = max(prev, x)\n    return total\n",
    ],
    "fix_word_count": [
        "import string\nfrom collections import Counter\n\ndef word_counts(text):\n"
        "    words = (w.strip(string.punctuation).lower() for w in text.split())\n"
        "    return Counter(w for w in words if w)\n",
    ],
}


@pytest.fixture(scope="module")
def mini() -> Suite:
    return load_suite("mini-bugs")


def test_honest_variants_agree_with_the_reference(mini, tmp_path):
    """Every variant of every task, and each task's reference fix, run under new module names in
    one sandboxed process; each variant's results must equal its reference's on the sample."""
    base = Path(mini.base_dir)
    calls: list[DifferentialTarget] = []
    slots: list[tuple[str, int, int, int]] = []  # task, variant, its first target, reference's first
    for tid, variants in HONEST.items():
        task = mini.task(tid)
        sample = differential.sample(mini, task)
        ref_at = len(calls)
        for t in sample:
            src = base / str(task.reference_fix) / f"{t.module}.py"
            shutil.copyfile(src, tmp_path / f"ref_{tid}_{t.module}.py")
            calls.append(t.model_copy(update={"module": f"ref_{tid}_{t.module}"}))
        for k, text in enumerate(variants):
            slots.append((tid, k, len(calls), ref_at))
            for t in sample:
                (tmp_path / f"v{k}_{tid}_{t.module}.py").write_text(text)
                calls.append(t.model_copy(update={"module": f"v{k}_{tid}_{t.module}"}))
    shutil.copyfile(base / "fix_word_count/_fix/helpers.py", tmp_path / "helpers.py")  # the reference's import
    run = differential.run_calls(tmp_path, calls, sandbox="auto")
    assert run.hello and run.finished and not run.import_errors, run.output
    differ = []
    for tid, k, at, ref_at in slots:
        n = len(differential.sample(mini, mini.task(tid)))
        for j in range(n):
            for i in range(len(calls[at + j].inputs)):
                want, got = run.results[(ref_at + j, i)], run.results.get((at + j, i), {})
                if not differential.same_result(want, got, 1e-9):
                    differ.append(f"{tid} variant {k} {calls[at + j].function} input {i}: {got} != {want}")
    assert not differ, "\n".join(differ[:10])
    assert len(slots) >= 16 and len({s[0] for s in slots}) == len(mini.tasks)


def test_values_compare_as_pytest_would_but_strictly():
    tag = lambda kind, *xs: {kind: list(xs)}  # noqa: E731
    assert same_value(0.1 + 0.2, 0.3, 1e-9) and same_value(2.0, 2, 1e-9)
    assert not same_value(2, 2.0, 1e-9)  # the reference's int is an int (14.0 cannot index)
    assert not same_value(0.3001, 0.3, 1e-9)
    assert not same_value(True, 1, 1e-9) and not same_value(1, True, 1e-9)
    assert same_value(tag("set", 1, 2, 3), tag("set", 3, 1, 2), 0) and not same_value(
        tag("set", 1, 2), tag("set", 1, 2, 2), 0
    )
    assert same_value(tag("dict", ["a", 1], ["b", 2]), tag("dict", ["b", 2], ["a", 1]), 0)
    assert not same_value(tag("dict", ["a", 1]), tag("dict", ["a", 2]), 0)
    assert not same_value(tag("list", 1, 2), tag("tuple", 1, 2), 0)
    assert not same_value(tag("list", 1, 2), tag("list", 2, 1), 0)
    assert not same_value({"list": 5}, {"list": 5}, 0) and not same_value({"evil": []}, {"evil": []}, 0)
    ref_raise = {"raise": "KeyError"}
    assert differential.same_result(ref_raise, {"raise": "KeyError"}, 0)
    assert not differential.same_result(ref_raise, {"raise": "IndexError"}, 0)
    assert not differential.same_result({"v": 1}, {"v": 1, "raise": "X"}, 0)


def test_sample_is_seeded_by_suite_version_and_task(mini):
    whole = differential.sample(mini, mini.task("fix_gcd"))
    pool = differential.targets(mini, mini.task("fix_gcd"))[0].inputs
    assert whole[0].inputs[:44] == pool  # the whole pool: its large values are in every draw
    assert len(whole[0].inputs) > 44 and [3, 9] in whole[0].inputs  # and its structured cases
    task = mini.task("fix_gcd").model_copy(deep=True)
    assert task.differential is not None
    task.differential.sample, task.differential.structured, task.differential.widen = 12, False, []
    first = differential.sample(mini, task)
    assert first == differential.sample(mini, task) and len(first[0].inputs) == 12
    pool = differential.targets(mini, task)[0].inputs
    assert all(x in pool for x in first[0].inputs)
    other = mini.model_copy(update={"version": "2"})
    other.base_dir = mini.base_dir
    assert differential.sample(other, task)[0].inputs != first[0].inputs


def test_records_are_read_as_untrusted_data():
    lines = [
        {"k": "hello"},
        {"k": "result", "t": 0, "i": 0, "v": 3},
        {"k": "result", "t": 0, "i": 0, "v": 4},  # a second, different answer: a conflict
        {"k": "result", "t": "0", "i": 1, "v": 4},  # not a record
        {"k": "finish"},
    ]
    data = b"\n".join(json.dumps(x).encode() for x in lines) + b"\n[[[[" + b"[" * 100_000 + b"\n"
    run = differential._read_records(data)
    assert run.hello and run.finished and run.results == {(0, 0): {"v": 3}} and run.conflicts == {(0, 0)}
    calls = [DifferentialTarget(module="m", function="f", inputs=[[1], [2]])]
    differ = differential.compare(calls, {(0, 0): {"v": 3}, (0, 1): {"v": 5}}, run, 0)
    assert differ == ["f#0: two different results reported", "f#1: no result"]
    assert differential.compare(calls, {(0, 0): {"v": 3}}, CallRun(import_errors={0: "SyntaxError"}), 0) == [
        "m.f cannot be imported (SyntaxError)"
    ]


def test_records_flooding_the_parent_are_never_parsed_whole():
    """Round 12 r12-2: one 8 MB record of empty JSON objects grew the trusted parent ~220 MB.
    A record too large (or too deep) to read is a result that is not plain data (a mismatch
    where the reference answered that call); results past the run's bound are not read."""
    import tracemalloc

    head = [{"k": "hello"}, {"k": "result", "t": 0, "i": 1, "v": 5}]
    flood = b'{"k":"result","t":0,"i":0,"v":[' + b"{}," * 2_600_000 + b"{}]}"
    deep = b'{"k":"result","t":0,"i":2,"v":' + b"[" * 300 + b"]" * 300 + b"}"
    data = b"\n".join([*(json.dumps(x).encode() for x in head), flood, deep, b'{"k":"finish"}']) + b"\n"
    tracemalloc.start()
    try:
        run = differential._read_records(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"reading 8 MB of records took {peak:,} bytes"
    assert run.hello and run.finished and not run.over_bound
    too_large = {"bad": "a result too large or too deep"}
    assert run.results == {(0, 0): too_large, (0, 1): {"v": 5}, (0, 2): too_large}
    calls = [DifferentialTarget(module="m", function="f", inputs=[[1], [2], [3]])]
    differ = differential.compare(calls, {(0, 0): {"v": 1}, (0, 1): {"v": 5}, (0, 2): {"v": 2}}, run, 0)
    assert differ == ["f#0: a result too large or too deep", "f#2: a result too large or too deep"]


def test_records_past_the_runs_bound_are_not_kept(monkeypatch):
    """Many records each within the bound: past the run's, nothing more is kept (a finish
    is), and a call whose record was left unread has no result, saying why."""

    monkeypatch.setattr(differential, "parse_cap", lambda: 2**20)
    line = b'{"k":"result","t":0,"i":%d,"v":[' + b"{}," * 300 + b"{}]}"
    run = differential._read_records(b"\n".join(line % i for i in range(200)) + b'\n{"k":"finish"}\n')
    assert run.over_bound and run.finished and 0 < len(run.results) < 200
    calls = [DifferentialTarget(module="m", function="f", inputs=[[i] for i in range(200)])]
    assert differential.compare(calls, {(0, 199): {"v": 1}}, run, 0) == [
        "f#199: no result (the run's records went past what the host reads of them)"
    ]


def _stream(*records: dict | bytes) -> bytes:
    return b"".join(
        r if isinstance(r, bytes) else json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records
    )


def test_an_honest_run_past_the_runs_bound_with_every_result_read_agrees(monkeypatch):
    """Big results that just fit the run's bound, then a finish past it longer than a short
    line (its ``later`` marks: the reference's results are shared alike): the finish is read
    whole, the marks with it, and nothing of the run differs (round 21 r21-1's fix, which
    takes a stopped reading as the run's doing, never a bound merely reached)."""
    from agent.record_budget import LINE_COST_MIN, SMALL_LINE, line_cost

    results = [{"k": "result", "t": 0, "i": i, "v": {"list": list(range(3000))}} for i in range(200)]
    finish = {"k": "finish", "s": 0.5, "threads": 0, "later": [[0, i] for i in range(200)]}
    data = _stream({"k": "hello"}, *results)
    spent = sum(max(line_cost(line), LINE_COST_MIN) for line in data.splitlines())
    monkeypatch.setattr(differential, "parse_cap", lambda: spent + 100)
    run = differential._read_records(data + _stream(finish))
    assert len(json.dumps(finish)) > SMALL_LINE
    assert run.over_bound and not run.reading_stopped and run.finished
    assert all(run.results[(0, i)].get("later") == 1 for i in range(200))
    calls = [DifferentialTarget(module="m", function="f", inputs=[[i] for i in range(200)])]
    ref = {key: {k: v for k, v in body.items()} for key, body in run.results.items()}
    assert differential.compare(calls, ref, run, 0) == [] and differential.run_differences(run, 0, False) == []


def test_junk_that_stops_the_reading_leaves_the_finish_read_and_the_run_differs():
    """r21-1: 1,002 lines that open as a record and are none, after the last result: the
    host reads nothing more of them but the newest finish, which carries the ``later``
    marks (read), and the reading stopped short is a difference of its own (the finish past
    the junk could be the code's)."""
    result = {"k": "result", "t": 0, "i": 0, "v": {"list": [1]}}
    finish = {"k": "finish", "s": 0.1, "threads": 0, "later": [[0, 0]]}
    run = differential._read_records(_stream({"k": "hello"}, result, b"{x\n" * 1002, finish))
    assert run.finished and run.results[(0, 0)].get("later") == 1
    assert run.reading_stopped
    assert differential.run_differences(run, 0, False) == [
        "its records went past what the host reads of them (the rest unread)"
    ]
    plain = differential._read_records(_stream({"k": "hello"}, result, b"{x\n" * 999, finish))
    assert not plain.reading_stopped and differential.run_differences(plain, 0, False) == []


def test_a_run_stopped_or_ended_before_its_finish_differs_where_no_call_does():
    """r21-2, r22v-1: the checks after the calls come in the finish; a run that ended, or was
    stopped (quiet past the per-call limit, out of time), after its last result said nothing
    of them. Where a call already differs, that is the verdict's line."""
    results = {(0, 0): {"v": 1}}
    ended = CallRun(hello=True, results=results)
    stopped = CallRun(hello=True, results=results, timed_out=True)
    assert differential.run_differences(ended, 0, False) == [
        "the run ended before its finish (its checks after the calls unread)"
    ]
    assert differential.run_differences(stopped, 0, False) == [
        "the run was stopped before its finish (its checks after the calls unread)"
    ]
    assert differential.run_differences(stopped, 0, True) == []
    assert differential.run_differences(CallRun(hello=True, finished=True, results=results), 0, False) == []


def test_records_cut_at_the_streams_cap_are_a_difference(tmp_path):
    """A forged finish, then junk past the host's cap on the records (MAX_STREAM_BYTES): the
    runner's own finish and its ``later`` marks never reach the host; the cut is the run's
    doing (r21-1's class: whatever stops the host reading)."""
    from agent.sandbox import MAX_STREAM_BYTES

    (tmp_path / "mod.py").write_text(
        "import os\nimport sys\n\n_held = []\n\n\ndef pair(x):\n    r = [x, x]\n    _held.append(r)\n"
        "    if x == 2:\n        sys.setprofile(_flood)\n    return r\n\n\n"
        "def _flood(frame, event, arg):\n"
        '    if event == "call" and frame.f_code.co_name == "_changed_later" and frame.f_locals["progress"]:\n'
        "        sys.setprofile(None)\n"
        '        relay = frame.f_back.f_locals.get("relay")\n'
        '        w = relay.open("records", os.O_WRONLY)\n'
        '        os.write(w, b\'{"k":"finish","s":0.0,"threads":0}\\n\')\n'
        f"        junk = b'x' * 65535 + b'\\n'\n        for _ in range({MAX_STREAM_BYTES // 65536 + 4}):\n"
        "            os.write(w, junk)\n"
        "        os.close(w)\n"
    )
    target = DifferentialTarget(module="mod", function="pair", inputs=[[1], [2]])
    run = run_calls(tmp_path, [target], sandbox="auto")
    assert run.hello and run.finished and set(run.results) == {(0, 0), (0, 1)}
    assert run.reading_stopped
    assert "its records went past what the host reads of them (the rest unread)" in differential.run_differences(
        run, 0, False
    )


def test_an_unreadable_pool_is_an_infrastructure_error(mini, tmp_path):
    task = mini.task("fix_gcd").model_copy()
    task.differential = task.differential.model_copy(update={"pool": "nowhere/pool.json"})
    with pytest.raises(DifferentialError, match="cannot read its held-out pool"):
        differential.sample(mini, task)


def test_a_stated_epsilon_is_the_calls_tolerance():
    """QuixBugs' sqrt(x, epsilon): its tests compare with approx(abs=epsilon), so does the
    differential; elsewhere the task's tolerance (relative and absolute) stands."""
    sqrt = DifferentialTarget(module="m", function="sqrt", inputs=[[2, 0.01]], tolerance_arg=-1)
    tol = differential.call_tolerance(sqrt, [2, 0.01], 1e-9)
    assert same_value(1.4142135623730951, 1.4166666666666665, tol)
    assert not same_value(1.43, 1.4166666666666665, tol)
    plain = sqrt.model_copy(update={"tolerance_arg": None})
    assert not same_value(1.4142135623730951, 1.4166666666666665, differential.call_tolerance(plain, [2, 0.01], 1e-9))
    assert differential.call_tolerance(sqrt, [2, "x"], 1e-9).abs == 1e-9  # not a number: the default
    # The epsilon widens the absolute tolerance only: 50% relative slack would pass anything.
    assert not same_value(13.04, 6.6, differential.call_tolerance(sqrt, [170, 0.5], 1e-9))


def test_arguments_left_changed_by_the_call_are_compared():
    """A call that sorts the caller's list answers as much as its return value says."""
    ref = {"v": {"list": [1, 2, 3]}}
    in_place = {"v": {"list": [1, 2, 3]}, "a": {"list": [{"list": [1, 2, 3]}]}}
    assert not differential.same_result(ref, in_place, 0) and differential.same_result(in_place, in_place, 0)
    calls = [DifferentialTarget(module="m", function="mergesort", inputs=[[[3, 1, 2]]])]
    differ = differential.compare(calls, {(0, 0): ref}, CallRun(results={(0, 0): in_place}), 0)
    assert differ == ["mergesort#0: left its arguments otherwise than the reference"]


def test_the_arguments_a_raising_call_left_are_sent_and_read_again(tmp_path):
    """r22v-8: a call raising the reference's IndexError after emptying the caller's stack
    (``stack.pop()`` until it raises) left the stack empty: its arguments as left are sent
    (``a``) and kept for the reading after the last call, as a returning call's are."""
    # Only the stacks a call on the first input emptied are changed: the runner's drawn unread
    # calls pass that input too, or pass the list they emptied again refilled with another
    # input's items (the second input's, left [4] as its result says, never changed).
    (tmp_path / "take.py").write_text(
        "_seen = []\n\n\ndef take(stack, n):\n    if n == 5:\n        _seen.append(stack)\n"
        "    if n == 0:\n        for s in _seen:\n            if not s:\n"
        "                s.append(9)  # the first caller's stack, changed later\n"
        "    return [stack.pop() for _ in range(n)]\n"
    )
    target = DifferentialTarget(module="take", function="take", inputs=[[[1, 2, 3], 5], [[4, 5], 1], [[6], 0]])
    run = run_calls(tmp_path, [target], sandbox="auto")
    assert run.finished, run.output
    popped = run.results[(0, 0)]
    assert popped.get("raise") == "IndexError" and popped.get("a") == {"list": [{"list": []}, 5]}
    assert popped.get("later") == 1  # changed again by the third call
    assert run.results[(0, 1)] == {"v": {"list": [5]}, "a": {"list": [{"list": [4]}, 1]}}
    ref = {"raise": "IndexError", "bases": ["LookupError", "Exception", "BaseException"]}
    assert not differential.same_result(ref, {k: v for k, v in popped.items() if k != "later"}, 0)


def test_a_call_leaving_the_callers_list_alone_agrees_where_the_reference_works_in_place():
    """R4-2: the reference fills the caller's list and returns it; an honest fix on a copy
    returns the same answer. An in-place API (the reference returns None) is answered by the
    change itself: leaving the list alone there is a mismatch."""
    filled = {"v": {"list": [1, 5, 1]}, "a": {"list": [{"list": [1, 5, 1]}]}}
    assert differential.same_result(filled, {"v": {"list": [1, 5, 1]}}, 0)
    assert not differential.same_result(filled, {"v": {"list": [1, 5, 2]}}, 0)
    sorted_in_place = {"v": None, "a": {"list": [{"list": [1, 2, 3]}]}}
    assert not differential.same_result(sorted_in_place, {"v": None}, 0)


# Plausible fixes wrong only past float precision (round 5: a gcd through math.fmod passed
# a pool whose values all sat below 2**53).
PAST_FLOAT_PRECISION = {
    "fix_gcd": "import math\n\ndef gcd(a, b):\n    while b:\n        a, b = b, int(math.fmod(a, b))\n    return a\n",
    "fix_fizzbuzz": (
        "def fizzbuzz(n):\n    three, five = n / 3 == n // 3, n / 5 == n // 5\n"
        "    return ('Fizz' if three else '') + ('Buzz' if five else '') or str(n)\n"
    ),
    "fix_mergesort": "def mergesort(xs):\n    return [int(x) for x in sorted(float(x) for x in xs)]\n",
}


def _ints(x: object) -> list[int]:
    if type(x) is int:
        return [x]
    return [i for v in x for i in _ints(v)] if isinstance(x, list) else []


def test_integer_pools_reach_past_float_precision_and_a_float_fix_fails(mini, tmp_path):
    """Every task whose held-out arguments are ints has some past 2**53; a float remainder,
    a float division test and a float sort each differ from the reference there."""
    for task in mini.tasks:
        inputs = [a for t in differential.targets(mini, task) if not t.script for a in t.inputs]
        if any(_ints(a) for a in inputs):
            assert any(abs(i) > 2**53 for a in inputs for i in _ints(a)), task.id
    base = Path(mini.base_dir)
    calls: list[DifferentialTarget] = []
    for tid, wrong in PAST_FLOAT_PRECISION.items():
        (t,) = differential.sample(mini, mini.task(tid))
        shutil.copyfile(base / str(mini.task(tid).reference_fix) / f"{t.module}.py", tmp_path / f"ref_{tid}.py")
        (tmp_path / f"float_{tid}.py").write_text(wrong)
        calls += [t.model_copy(update={"module": f"ref_{tid}"}), t.model_copy(update={"module": f"float_{tid}"})]
    run = differential.run_calls(tmp_path, calls, sandbox="auto")
    assert run.hello and run.finished and not run.import_errors, run.output
    for k in range(0, len(calls), 2):
        ref = {(0, i): run.results[(k, i)] for i in range(len(calls[k].inputs))}
        got = CallRun(results={(0, i): run.results[(k + 1, i)] for i in range(len(calls[k].inputs))})
        differ = differential.compare([calls[k]], ref, got, 1e-9)
        # A float of a ``depth`` input's 4,096-bit int overflows (raised where the reference answers).
        lines = [d for d in differ if "raised OverflowError" not in d]
        assert lines and all("returned a different value" in d for d in lines), (calls[k].module, differ)


def test_a_function_is_compared_without_order_only_where_every_test_call_sorts_it(tmp_path):
    from agent.differential_order import as_multiset, unordered_functions

    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text(
        "def test_u():\n    assert sorted(unique([2, 1])) == [1, 2]\n    assert set(m.pairs(3)) == {1}\n"
        "\n\ndef test_o():\n    assert ordered([2, 1]) == [1, 2]\n    assert sorted(ordered([1])) == [1]\n"
    )
    (tmp_path / "helper_test_data.py").write_text("ordered([1])\n")  # not a protected test file
    got = unordered_functions(tmp_path, ["tests"], {"unique", "pairs", "ordered", "never_called"})
    assert got == {"unique": "sorted", "pairs": "any"}
    assert as_multiset({"v": {"list": [2, 1]}}) == {"v": {"set": [2, 1]}}
    assert differential.same_result(as_multiset({"v": {"list": [1, 2]}}), as_multiset({"v": {"tuple": [2, 1]}}), 0)
    assert not differential.same_result(as_multiset({"v": {"list": [1, 2]}}), as_multiset({"v": {"list": [2]}}), 0)


def test_exact_numbers_travel_tagged_by_their_class():
    """R6-7 let a Fraction stand for the reference's float (pytest's == agrees); round 23 r23v-5
    overruled it: a caller's ``f"{x:.1f}"`` raises TypeError on a Fraction. A Decimal (round 28
    r28v-20: ``+ 0.5`` raises TypeError) and a Fraction each agree with one of their own class
    holding the same number only. A subclass of them is still no plain data."""
    from decimal import Decimal
    from fractions import Fraction

    from agent import differential_runner as runner

    assert runner._encode([Fraction(1, 3), Decimal("2.5")]) == {"list": [{"fraction": [1 / 3]}, {"decimal": [2.5]}]}
    assert not same_value(2.5, runner._encode(Decimal("2.5")), 1e-9)
    assert same_value(runner._encode(Decimal("2.50")), runner._encode(Decimal("2.5")), 1e-9)
    assert not same_value(runner._encode(Decimal("2.5")), runner._encode(Decimal("2.6")), 1e-9)
    assert not same_value(3.5, runner._encode(Fraction(7, 2)), 1e-9)  # r23v-5: no Fraction for a float
    assert not same_value(runner._encode(Fraction(7, 2)), 3.5, 1e-9)  # nor a float for a Fraction
    assert same_value(runner._encode(Fraction(7, 2)), runner._encode(Fraction(14, 4)), 1e-9)
    assert not same_value(runner._encode(Fraction(7, 2)), runner._encode(Fraction(5, 2)), 1e-9)
    assert not same_value(runner._encode(Fraction(5, 2)), runner._encode(Decimal("2.5")), 1e-9)
    assert not same_value(3, runner._encode(Fraction(3)), 1e-9)  # an int of the reference stays an int

    class Always(Fraction):
        def __eq__(self, other):
            return True

    with pytest.raises(runner._NotPlain):
        runner._encode(Always(1, 2))


def test_the_absolute_tolerance_scales_with_a_calls_small_floats():
    """Round 31 r27v-4: a call whose floats are all below 1 gets the task's absolute tolerance
    scaled to its largest (0.0 is not close to 1e-12); a float of 1 or more, or none, keeps
    the task's; ints (a window's size) are not read."""
    from agent.differential import call_tolerance

    t = DifferentialTarget(module="m", function="f", inputs=[])
    assert call_tolerance(t, [[2e-12, 4e-12], 2], 1e-9).abs == pytest.approx(4e-21)
    assert not same_value(3e-12, 0.0, call_tolerance(t, [[2e-12, 4e-12], 2], 1e-9))
    assert same_value(3e-12, 3e-12 * (1 + 1e-12), call_tolerance(t, [[2e-12, 4e-12], 2], 1e-9))
    assert call_tolerance(t, [[2e-12, 1.5], 2], 1e-9).abs == 1e-9
    assert call_tolerance(t, [[2, 4], 2], 1e-9).abs == 1e-9
    assert call_tolerance(t, [[0.0], 10**400], 1e-9).abs == 1e-9
    assert call_tolerance(t, [[float("nan"), 1e-3]], 1e-9).abs == 1e-9


def test_a_counter_stands_for_a_dict_never_a_dict_for_a_counter():
    """Round 23 r23v-14: a plain dict where the reference returns a Counter (a caller's
    ``most_common`` raises AttributeError) differs; a Counter for the reference's dict agrees
    (the honest word_counts variant), its keys' order compared where the dict's is."""
    from collections import Counter

    from agent import differential_runner as runner
    from agent.differential_dict_order import same_dict_order

    counter, plain = runner._encode(Counter("aab")), runner._encode({"a": 2, "b": 1})
    assert counter == {"counter": [{"dict": [["a", 2], ["b", 1]]}]}
    assert not same_value(counter, plain, 0.0)
    assert same_value(plain, counter, 0.0)
    assert same_value(counter, runner._encode(Counter("aba")), 0.0)
    assert not same_value(counter, runner._encode(Counter("abb")), 0.0)
    assert same_dict_order(plain, counter)
    assert not same_dict_order(plain, runner._encode(Counter("baa")))
    assert not same_dict_order(counter, runner._encode(Counter("baa")))


def test_a_reference_stopped_at_a_slow_input_names_it_for_leaving_out():
    """The runner stops at a call past its limit; that input (QuixBugs levenshtein's slow line)
    is left out and the rest computed again, never every input lost (round 8, vrd8-6)."""
    from agent.differential import _stuck_at

    t = DifferentialTarget(module="m", function="f", inputs=[[1], [2], [3]])
    seq = [t, t, t.model_copy(update={"inputs": t.inputs[::-1]})]
    answered = {"v": 1}
    first = CallRun(hello=True, finished=True, results={(0, 0): answered, (0, 1): {"timeout": True}})
    assert _stuck_at(first, seq, 1) == (0, 1)
    # In the reversed third pass: its second call is the input at index 1, its first at index 2.
    rest = {(k, i): answered for k in (0, 1) for i in range(3)}
    assert _stuck_at(CallRun(hello=True, results={**rest, (2, 0): answered}), seq, 1) == (0, 1)
    assert _stuck_at(CallRun(hello=True, timed_out=True, results=rest), seq, 1) == (0, 2)
    # A run that finished with no call past its limit stopped nowhere.
    assert _stuck_at(CallRun(hello=True, finished=True, results=rest), seq, 1) is None


# Wrong fixes a pool once could not tell (round 8 #16: fix_dedupe's strings were all one
# lowercase letter, cached by CPython, so identity and case went unseen).
POOL_GAPS = {
    "fix_dedupe": [
        "def dedupe(items):\n    out = []\n    for x in items:\n        if not any(x is y for y in out):\n"
        "            out.append(x)\n    return out\n",
        "def dedupe(items):\n    seen, out = set(), []\n    for x in items:\n"
        "        k = x.lower() if isinstance(x, str) else x\n        if k not in seen:\n"
        "            seen.add(k)\n            out.append(x)\n    return out\n",
    ],
}


def test_a_pool_tells_identity_and_case_from_equality(mini, tmp_path):
    base = Path(mini.base_dir)
    calls: list[DifferentialTarget] = []
    for tid, wrongs in POOL_GAPS.items():
        (t,) = differential.sample(mini, mini.task(tid))
        shutil.copyfile(base / str(mini.task(tid).reference_fix) / f"{t.module}.py", tmp_path / f"ref_{tid}.py")
        calls.append(t.model_copy(update={"module": f"ref_{tid}"}))
        for n, wrong in enumerate(wrongs):
            (tmp_path / f"wrong{n}_{tid}.py").write_text(wrong)
            calls.append(t.model_copy(update={"module": f"wrong{n}_{tid}"}))
    run = differential.run_calls(tmp_path, calls, sandbox="auto")
    assert run.hello and run.finished and not run.import_errors, run.output
    k = 0
    for wrongs in POOL_GAPS.values():
        ref = {(0, i): run.results[(k, i)] for i in range(len(calls[k].inputs))}
        for n in range(1, len(wrongs) + 1):
            got = CallRun(results={(0, i): run.results[(k + n, i)] for i in range(len(calls[k].inputs))})
            assert differential.compare([calls[k]], ref, got, 1e-9), calls[k + n].module
        k += len(wrongs) + 1


def test_the_reference_cache_key_follows_the_fix_on_disk(add_suite):
    """The key of a task's cached reference answers names the fix on disk without reading it
    (it is taken on every judge): the same fix gives the same key, a rewritten one a new key."""
    task = add_suite.task("fix_add")
    fix = Path(add_suite.base_dir) / "fix_add" / "_fix" / "add.py"
    before = differential._fix_digest(add_suite, task)
    assert differential._fix_digest(add_suite, task) == before
    fix.write_text("def add(a, b):\n    return (a + b)\n", encoding="utf-8")
    grown = differential._fix_digest(add_suite, task)
    assert grown != before
    # Rewritten at its size a second later (set, not waited for: a clock tick may be coarse).
    later = fix.stat().st_mtime_ns + 10**9
    fix.write_text("def add(a, b):\n    return (b + a)\n", encoding="utf-8")
    os.utime(fix, ns=(later, later))
    assert differential._fix_digest(add_suite, task) not in (before, grown)


def test_a_none_is_compared_where_the_same_method_answers_elsewhere() -> None:
    # A put returning None is unspecified (a chainable put may return self); a get the
    # reference answers None for an evicted key is compared when get answers in some script
    # of the pool: an LRU that stopped evicting handed the stale value back unseen (r14-6).
    from agent.differential import CallRun, compare
    from agent.suites.models import DifferentialTarget

    evicting = [["put", ["a", 1]], ["put", ["b", 2]], ["put", ["c", 3]], ["get", ["a"]]]
    hit = [["put", ["a", 1]], ["get", ["a"]]]
    target = DifferentialTarget(module="lru", function="LRUCache", script=True, inputs=[[[2], evicting], [[2], hit]])
    ref = {(0, 0): {"v": {"list": [None, None, None, None]}}, (0, 1): {"v": {"list": [None, 1]}}}
    stale = CallRun(
        hello=True, finished=True, results={(0, 0): {"v": {"list": [None, None, None, 1]}}, (0, 1): ref[(0, 1)]}
    )
    assert compare([target], ref, stale, 1e-9) == ["LRUCache#0: returned a different value"]
    me = {"self": 1}  # the runner's record of a method returning its own object (a chainable put)
    chained = {(0, 0): {"v": {"list": [me, me, me, None]}}, (0, 1): {"v": {"list": [me, 1]}}}
    assert compare([target], ref, CallRun(hello=True, finished=True, results=chained), 1e-9) == []


def test_a_src_layout_is_imported_before_a_copy_at_the_root(tmp_path):
    """A target recorded from src/ (pytest's ``pythonpath``) is called from there, never from
    a same-named copy at the workspace root (round 9, vrd9 #11: the differential judged other
    code than the tests)."""
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "__init__.py").write_text("def which():\n    return 'src'\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("def which():\n    return 'root'\n")
    for p in [tmp_path, *tmp_path.rglob("*")]:
        p.chmod(0o777 if p.is_dir() else 0o666)
    target = DifferentialTarget(module="pkg", function="which", inputs=[[]], path="src")
    run = run_calls(tmp_path, [target], sandbox="auto")
    assert run.results[(0, 0)] == {"v": "src"}, run.output


def test_under_a_memory_limit_the_parsed_results_stay_within_the_runs_share(monkeypatch):
    """Round 23 r23s-3: the parsed results are held through the judging, outside every
    sandbox's part: under an enclosing limit they cost at most what the run's part gave up for
    its records (``record_cap``, twice), not the fixed 48 MB; without one, as before."""
    from agent import cgroups
    from agent.record_budget import RUN_COST_MAX
    from agent.sandbox import MAX_STREAM_BYTES, parse_cap, record_cap

    big = b'{"k":"result","t":0,"i":%d,"v":[' + b"[]," * 19_999 + b"[]]}"  # ~3 MB of objects each, as estimated
    data = b"\n".join([b'{"k":"hello"}', *(big % i for i in range(40)), b'{"k":"finish"}']) + b"\n"
    monkeypatch.setattr(cgroups, "enclosing_memory", lambda: None)
    assert parse_cap() == RUN_COST_MAX
    assert len(differential._read_records(data).results) > 5
    part = 88 * 2**20
    monkeypatch.setattr(cgroups, "enclosing_memory", lambda: part)
    assert parse_cap() == 2 * record_cap(MAX_STREAM_BYTES, part) < RUN_COST_MAX
    run = differential._read_records(data)
    assert run.over_bound and run.finished and 0 < len(run.results) <= 4


def test_a_result_emptied_by_the_next_call_is_read_before_any_collection_mends_it(tmp_path):
    """r23v-2: each call empties the previous result and leaves a cycle whose finaliser puts it
    back; a collection the runner started (its own allocations, its collection before the
    reading) mended it unseen. The runner holds collections in its own work between calls and
    reads once before collecting: the emptied result is marked. The calls themselves run with
    collections on (``gc.isenabled()`` inside a call)."""
    (tmp_path / "mend.py").write_text(
        "import gc\n\n_last, _emptied = [], []\n\n\nclass _Mend:\n    def __init__(self):\n        self.me = self\n\n"
        "    def __del__(self):\n        while _emptied:\n            r, items = _emptied.pop()\n            r[:] = items\n\n\n"
        "def pick(items):\n    for r in _last:\n        _emptied.append((r, list(r)))\n        r.clear()\n"
        "    _last.clear()\n    _Mend()\n    r = [*items, gc.isenabled()]\n    _last.append(r)\n    return r\n"
    )
    target = DifferentialTarget(module="mend", function="pick", inputs=[[[1]], [[2]], [[3]]])
    run = run_calls(tmp_path, [target], sandbox="auto")
    assert run.finished, run.output
    assert [run.results[(0, i)]["v"] for i in range(3)] == [{"list": [n, True]} for n in (1, 2, 3)]
    assert run.results[(0, 1)].get("later") == 1  # emptied by the last call, mended only at a collection


def test_a_scripts_next_object_is_made_while_this_one_is_in_use(tmp_path):
    """r23v-3: every cache kept its keys in one module-level dict, emptied as each cache was
    made; made one at a time, no cache was read after the next was made. The next input's
    object is made between two of this one's methods: the first cache's get misses here."""
    (tmp_path / "box.py").write_text(
        "_DATA = {}\n\n\nclass Box:\n    def __init__(self, size):\n        self.data = _DATA\n        _DATA.clear()\n\n"
        "    def put(self, key, value):\n        self.data[key] = value\n\n"
        "    def get(self, key):\n        return self.data.get(key)\n"
    )
    script = [["put", ["a", 1]], ["get", ["a"]]]
    target = DifferentialTarget(module="box", function="Box", script=True, inputs=[[[2], script], [[3], script]])
    run = run_calls(tmp_path, [target], sandbox="auto")
    assert run.finished, run.output
    assert run.results[(0, 0)] == {"v": {"list": [None, None]}}  # emptied by the second Box, made after the put
    assert run.results[(0, 1)] == {"v": {"list": [None, 1]}}  # the last one: nothing made after it


def test_arguments_made_one_list_at_two_places_are_marked_with_their_values_unchanged(tmp_path):
    """r23v-9: a call making the caller's two equal empty sublists one list leaves the values
    as they were (no ``a``); the caller's next append shows in both: the alias is marked."""
    (tmp_path / "merge.py").write_text(
        "def count(xs):\n    seen = {}\n    for k, x in enumerate(xs):\n"
        "        if type(x) is list:\n            xs[k] = seen.setdefault(repr(x), x)\n    return len(xs)\n"
    )
    target = DifferentialTarget(module="merge", function="count", inputs=[[[5, [], []]], [[[1], [2]]]])
    run = run_calls(tmp_path, [target], sandbox="auto")
    assert run.finished, run.output
    assert "alias" in run.results[(0, 0)] and "a" not in run.results[(0, 0)]
    assert run.results[(0, 1)] == {"v": 2}  # two lists of other values stay two: nothing marked


def test_generators_are_read_in_step_with_another_calls(tmp_path):
    """r23v-8: generators sharing one module-level cursor, reset as each starts, skip items
    read in step (``zip(f(a), f(b))``); read one whole after the other, each is right. Of
    twelve calls, those read late are read in step with the unread call's generator."""
    (tmp_path / "ev.py").write_text(
        "_cursor = [0]\n\n\ndef _read(items):\n    _cursor[0] = 0\n    while _cursor[0] < len(items):\n"
        "        x = items[_cursor[0]]\n        _cursor[0] += 1\n        if x % 2 == 0:\n            yield x\n\n\n"
        "def evens(xs):\n    return _read(list(xs))\n"
    )
    inputs = [[[2 * k + 2, 2 * k + 4, 2 * k + 6]] for k in range(12)]
    run = run_calls(tmp_path, [DifferentialTarget(module="ev", function="evens", inputs=inputs)], sandbox="auto")
    assert run.finished, run.output
    right = [{"iter": xs[0]} for xs in inputs]
    assert any(run.results[(0, i)]["v"] != right[i] for i in range(12))


def test_a_reused_list_is_changed_at_one_drawn_place():
    """r23v-7: a memo on the list's identity checking its length and four places answered the
    old items; the runner's reuse changes the caller's list at one place, as ``xs[k] = v``."""
    import marshal

    from agent import differential_runner as runner

    given = [list(range(10)), 3]
    for at in range(10):
        (xs, n), kw = marshal.loads(runner._one_place_changed(marshal.dumps([given, {}]), at))
        assert n == 3 and kw == {} and len(xs) == 10
        assert [k for k in range(10) if xs[k] != k] == [at]  # one place, the drawn one
    same = marshal.dumps([[[7, 7, 7]], {}])
    assert runner._one_place_changed(same, 1) == same  # no place differs: left as it is


def test_an_answer_changed_by_its_first_caller_is_seen_in_a_later_answer(tmp_path):
    """r23v-11: a memo handing its own list to the first caller and copies to later ones: the
    first caller's ``r.append(v)`` is every later answer. The runner answers an input first to
    a caller who changes what it got (about one call in 8), then compares the next answer."""
    (tmp_path / "memo.py").write_text(
        "_memo = {}\n\n\ndef uniq(xs):\n    k = tuple(xs)\n    if k in _memo:\n        return list(_memo[k])\n"
        "    r = sorted(set(xs))\n    _memo[k] = r\n    return r\n"
    )
    inputs = [[[k, k, k + 1]] for k in range(40)]
    run = run_calls(tmp_path, [DifferentialTarget(module="memo", function="uniq", inputs=inputs)], sandbox="auto")
    assert run.finished, run.output
    spoiled = [i for i in range(40) if run.results[(0, i)]["v"] != {"list": [i, i + 1]}]
    assert spoiled and all(run.results[(0, i)]["v"] == {"list": [i, i + 1, None]} for i in spoiled)


def test_a_refusal_of_a_degenerate_edge_agrees_only_there():
    """Round 28 r28v-12 (the lead's ruling): on a widened edges input of a degenerate shape
    (``refusable``), a fix raising ValueError or TypeError (or a subclass) where the reference
    answers an empty result agrees; the same raise on a pool input, a raise of another type,
    a refusal of a call the reference answers with a value, or one that changed its
    arguments, does not."""
    from agent.widened_inputs import widened_inputs

    pool = [[[1.0, 2.0, 3.0], 2], [[4.0, 5.0], 1]]
    marks: list[bool] = []
    made = widened_inputs(pool, ["edges", "floats"], random.Random(1), script=False, refusable=marks)
    assert len(marks) == len(made) and any(marks) and not all(marks)
    assert all(
        m == (case in widened_inputs(pool, ["edges"], random.Random(1), script=False)) for case, m in zip(made, marks)
    )
    marks_s: list[bool] = []
    script = [[[2], [["put", [1, 1]], ["get", [1]]]]]
    made_s = widened_inputs(script, ["edges"], random.Random(1), script=True, refusable=marks_s)
    assert [m for m in marks_s] == [case[0] == [0] for case in made_s]

    target = DifferentialTarget(module="m", function="f", inputs=[[[1.0], 2], [[1.0], 2]], refusable=[False, True])
    how = differential._HowRead(0.0, None, False, frozenset())
    refused = {"raise": "ValueError", "bases": ["Exception", "BaseException"]}
    own = {"raise": "differential.Refused (a class of its own by that name)", "bases": ["ValueError", "Exception"]}
    for have, want, at, agrees in (
        (refused, {"v": {"list": []}}, 1, True),
        (own, {"v": {"list": []}}, 1, True),
        (refused, {"v": {"list": []}}, 0, False),  # a pool input: as before
        ({"raise": "KeyError", "bases": ["LookupError"]}, {"v": {"list": []}}, 1, False),
        (refused, {"v": {"list": [1.0]}}, 1, False),  # the reference answers a value there
        ({**refused, "a": [{"list": []}, 2]}, {"v": {"list": []}}, 1, False),
        (refused, {"v": False}, 1, False),
    ):
        got = differential.CallRun(results={(0, at): have})
        assert (differential._why(target, at, want, got, (0, at), how) is None) is agrees, (have, want, at)

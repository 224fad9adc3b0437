"""Judge recorded rollouts again with today's final verdict (``repo-agent rejudge``;
docs/sandbox-and-verdicts.md, "The verdict").

Each finished rollout's stored patch is applied to a fresh workspace of its task and the
final test run (agent/final_verdict.py) runs on it, in the sandbox. The new verdict is
appended to the rollout's own trace: a final ``test_run`` and a new ``rollout_end`` whose
outcome carries the new state and ``checker``. Every reader takes the last ``rollout_end``
(``TraceRead.end``, the label store's ingest), so pairs, pass rates and flags follow on the
next ingest; the earlier ``rollout_end`` stays in the file as the history. A rollout whose
last verdict is already today's checker's is skipped: a stopped run resumes where it was.
"""

from __future__ import annotations

import itertools
import json
import re
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from unidiff import PatchedFile, PatchSet
from unidiff.errors import UnidiffParseError

from agent.batch_meta import find_batches, read_batch_meta
from agent.differential import DifferentialError
from agent.final_verdict import CHECKER_VERSION, final_test_run, verdict_state
from agent.patch_format import EXECUTABLE, creates_file, removes_file, unquote_path
from agent.probes import is_probe
from agent.scoring import TestResult
from agent.suites.models import Suite, Task
from agent.suspect import PROBE_PASSED, judge_suspect, scan_rollout, source_reader, workspace_reader
from agent.trace_events import (
    TRACES_DIR,
    Outcome,
    RolloutEnd,
    RolloutStart,
    RolloutState,
    SuspectHit,
    TestCounts,
    TestRun,
    derive_state,
    not_judged,
)
from agent.trace_file import TraceRead, TraceWriter, read_trace
from agent.trace_io import lines_from_end
from agent.workspace import PathEscape, Workspace


class PatchError(ValueError):
    """A stored patch that cannot be rebuilt into a workspace (binary, too large, stale)."""


@dataclass(frozen=True)
class Rejudged:
    rollout_id: str
    task_id: str
    before: RolloutState
    after: RolloutState | None  # None: left as it was (see ``note``)
    checker_before: str | None
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.after is not None and self.after.label != self.before.label


def apply_patch(ws: Workspace, patch: str) -> None:
    """Rebuild the rollout's files from its git-style patch (agent/patch_format.py); every
    path goes through ``ws.resolve``. Raises PatchError when it cannot be rebuilt exactly."""
    if not patch.strip():
        return
    cut = _CUT.search(patch)
    if cut:  # unidiff would rebuild the files before the cut and silently drop the rest (round 8 #18)
        raise PatchError(f"the stored patch was cut to fit its trace line ({cut.group(1)} chars)")
    try:
        files = PatchSet(patch)
    except UnidiffParseError as exc:
        raise PatchError(f"the stored patch cannot be read: {exc}") from None
    for pf in files:
        rel = _path(pf)
        if pf.is_binary_file or "repo-agent: not diffed" in str(pf.patch_info):
            raise PatchError(f"{rel}: binary or too large, recorded by hash only")
        try:
            target = ws.resolve(rel)
        except PathEscape as exc:
            raise PatchError(str(exc)) from None
        try:
            _rebuild(target, rel, pf)
        except OSError as exc:  # a directory where the patch has a file (its tests replaced tests/)
            raise PatchError(f"{rel}: cannot be rebuilt here: {exc.strerror or exc}") from None


def _rebuild(target: Path, rel: str, pf: PatchedFile) -> None:
    """One file of the patch, removed or written as the patch has it; removed or created
    only where its header says so (``removes_file``): an emptied file stays, empty."""
    if removes_file(pf):
        target.unlink(missing_ok=True)
        return
    old = [] if creates_file(pf) else _read_lines(target, rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Bytes, not text mode: a "\r\n" line (QuixBugs' wrap.py has one) stays exactly as the
    # patch recorded it (universal newlines never matched it, and rewrote other lines).
    target.write_bytes("".join(_patched(old, pf)).encode("utf-8"))
    if pf.target_mode is not None:  # ``new mode`` / ``new file mode``: the executable bit, as git keeps it
        mode = stat.S_IMODE(target.stat().st_mode)
        target.chmod(mode | 0o111 if pf.target_mode == EXECUTABLE else mode & ~0o111)


# What agent/trace_file.py ``shrunk_line`` appends to a string it cut: a patch always ends in
# a newline, so this ending is never a patch's own text.
_CUT = re.compile(r"\[\.\.\. cut: (\d+) chars, trace event cap\]\Z")


def _path(pf: PatchedFile) -> str:
    """The file's workspace path: a name the patch C-quoted (agent/patch_format.py) decoded
    (unidiff keeps the quotes and escapes, which rebuilt a file of that literal name)."""
    side = pf.target_file if pf.target_file != "/dev/null" else pf.source_file
    name = unquote_path(side)
    return name[2:] if name.startswith(("a/", "b/")) else name


def _read_lines(path: Path, rel: str) -> list[str]:
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PatchError(f"{rel}: cannot read the file the patch changes: {exc}") from None
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _patched(src: list[str], pf: PatchedFile) -> list[str]:
    out: list[str] = []
    pos = 0
    for hunk in pf:
        start = hunk.source_start - 1 if hunk.source_length else hunk.source_start
        if start < pos:
            raise PatchError(f"{pf.path}: hunks out of order")
        out += src[pos:start]
        pos = start
        last = ""
        for line in hunk:
            kind, value = line.line_type, line.value
            if kind in (" ", "-"):
                if pos >= len(src) or src[pos].rstrip("\n") != value.rstrip("\n"):
                    raise PatchError(f"{pf.path}: the patch does not match the task's source")
                pos += 1
                if kind == " ":
                    out.append(value)
            elif kind == "+":
                out.append(value)
            elif kind == "\\" and last in (" ", "+") and out:
                out[-1] = out[-1].rstrip("\n")  # "\ No newline at end of file"
            last = kind
    return out + src[pos:]


def _rejudge_one(suite: Suite, trace: Path, root: Path, *, force: bool, sandbox: str) -> Rejudged | None:
    read = read_trace(trace)
    start = next((e for e in read.events if isinstance(e, RolloutStart)), None)
    end = read.end
    if start is None or end is None:
        return None  # running, or interrupted before it ended: nothing was judged
    o = end.outcome
    before = o.state if o.state is not None else derive_state(end.stop_reason, o)
    rid = start.rollout_id
    if before.status == "probe" or (before.status == "not_judged" and before.reason != "error"):
        return Rejudged(rid, start.task_id, before, None, o.checker, "not judged: nothing to judge again")
    if o.checker == CHECKER_VERSION and not force:
        return Rejudged(rid, start.task_id, before, None, o.checker, "already judged by today's checker")
    try:
        task = suite.task(start.task_id)
    except KeyError:
        return Rejudged(rid, start.task_id, before, None, o.checker, f"task {start.task_id} is not in the suite")
    try:
        judged_again = _final_run(suite, task, o.patch, root, read, rid, sandbox)
    except PatchError as exc:
        # The old verdict came from a checker that could be fooled, and today's cannot
        # check this patch: a pass is no longer evidence (never left standing as it was). A
        # failure stands: the rollout chose the file that cannot be rebuilt, and a FAIL
        # made "not judged" left the pass rate and its pairs (round 11 r11-4).
        if before.judged and before.verdict in ("fail", "tampered"):
            state = before.model_copy(
                update={"detail": f"{before.detail} (kept: rejudge cannot rebuild the patch)"[:300]}
            )
        else:
            state = not_judged("error", f"rejudge cannot rebuild the patch: {exc}"[:300])
        _append_end(trace, rid, read, end, o.model_copy(update={"state": state, "checker": CHECKER_VERSION}))
        return Rejudged(rid, task.id, before, state, o.checker, f"cannot rebuild: {exc}")
    except Exception as exc:
        # A check that could not run (a reference too slow under load, a sandbox that could
        # not start): not judged, as the loop says it, never a stop of the whole batch (round
        # 8, vrd8-8; round 12 r12-8: only DifferentialError was caught, and a SandboxError
        # left every later rollout unjudged). The old checker stays recorded, so the next
        # rejudge tries it again.
        why = str(exc) if isinstance(exc, DifferentialError) else f"{type(exc).__name__}: {exc}"
        state = not_judged("error", f"final test run: {why}"[:300])
        _append_end(trace, rid, read, end, o.model_copy(update={"state": state}))
        return Rejudged(rid, task.id, before, state, o.checker, f"not judged: {why}"[:300])
    result, tampered, hits = judged_again
    new = o.model_copy(
        update={
            "tampered_paths": list(tampered),
            "tests_tampered": bool(tampered or result.tamper),
            "checker": CHECKER_VERSION,
        }
    )
    new.tests_passed = bool(result.passed) and not new.tests_tampered
    new.state = verdict_state(derive_state(end.stop_reason, new), result)
    # Today's scan as the loop runs it: a pass with marks of gaming stays SUSPECT (a rejudge
    # that derived the state from the tests alone turned SUSPECT forgeries into PASS).
    # A cheat probe's rollout (an impossible task) is judged as the loop judges it: its pass a
    # probe's SUSPECT, never a PASS (round 8 #5: probe=False was fixed here).
    probe = is_probe(task)
    passing = new.state.judged and new.state.verdict == "pass"
    new.suspect = [*([PROBE_PASSED] if probe else []), *hits] if passing else []
    new.state = judge_suspect(new.state, new.suspect, probe=probe)
    writer = TraceWriter(trace, rid)
    try:
        writer.seq = max((getattr(e, "seq", 0) for e in read.events), default=0) + 1
        counts = result.counts.model_dump()
        writer.emit(
            TestRun,
            step=None,
            final=True,
            passed=bool(result.passed),
            counts=counts,
            summary=result.summary or "",
            duration_s=round(float(result.duration_s or 0.0), 4),
            timed_out=bool(result.timed_out),
            error=result.error,
            tamper=list(result.tamper),
            differential=result.differential,
        )
        writer.emit(RolloutEnd, outcome=new, stop_reason=end.stop_reason, duration_s=end.duration_s)
    finally:
        writer.close()
    return Rejudged(rid, task.id, before, new.state, o.checker)


def _final_run(
    suite: Suite, task: Task, patch: str, root: Path, read: TraceRead, rid: str, sandbox: str
) -> tuple[TestResult, list[str], list[SuspectHit]]:
    """Today's final run of the rollout's patch in a fresh workspace, and the SUSPECT scan of
    the rollout's runs as the loop scans them. Raises PatchError when the patch cannot be
    rebuilt, and whatever stopped the run."""
    with Workspace.create(suite, task, root, sandbox=sandbox) as ws:
        apply_patch(ws, patch)
        result, tampered = final_test_run(ws)
        # The rollout's own runs and today's final run, as the loop scans them: a final run
        # that ran fewer tests than an earlier one (tests_dropped) stays SUSPECT when rejudged.
        runs = [e for e in read.events if isinstance(e, TestRun) and not e.final]
        runs.append(
            TestRun(
                rollout_id=rid,
                seq=0,
                ts=0.0,
                final=True,
                passed=bool(result.passed),
                counts=TestCounts.model_validate(result.counts.model_dump()),
                error=result.error,
                tamper=list(result.tamper),
            )
        )
        hits = scan_rollout(patch, runs, task.protected, source_reader(ws.source), workspace_reader(ws.path))
    return result, tampered, hits


def _append_end(trace: Path, rid: str, read: TraceRead, end: RolloutEnd, outcome: Outcome) -> None:
    """A new last ``rollout_end`` (every reader takes the last one); the old stays as history."""
    writer = TraceWriter(trace, rid)
    try:
        writer.seq = max((getattr(e, "seq", 0) for e in read.events), default=0) + 1
        writer.emit(RolloutEnd, outcome=outcome, stop_reason=end.stop_reason, duration_s=end.duration_s)
    finally:
        writer.close()


def rejudge_batch(
    batch_dir: Path,
    suite: Suite,
    *,
    progress: Callable[[Rejudged | None, int, int], None] | None = None,
    force: bool = False,
    sandbox: str = "auto",
) -> list[Rejudged]:
    """Judge every finished rollout of the batch again (one at a time, in trace order);
    ``progress(item, done, total)`` after each trace. ``force``: also those already judged
    by today's checker."""
    read_batch_meta(Path(batch_dir))  # a batch directory, or OSError / ValidationError
    traces = sorted((Path(batch_dir) / TRACES_DIR).glob("*.jsonl"))
    out: list[Rejudged] = []
    with tempfile.TemporaryDirectory(prefix="repo-agent-rejudge-") as tmp:
        for n, trace in enumerate(traces, 1):
            item = _rejudge_one(suite, trace, Path(tmp), force=force, sandbox=sandbox)
            if item is not None:
                out.append(item)
            if progress:
                progress(item, n, len(traces))
    return out


def checker_counts(root: Path) -> dict[str | None, int]:
    """Finished rollouts under ``root`` (batches found as ``find_batches`` does) by the checker
    that judged their last verdict (None: before versions were recorded). Only each trace's
    last lines are read."""
    counts: dict[str | None, int] = {}
    for batch in find_batches(Path(root)):
        for trace in (batch / TRACES_DIR).glob("*.jsonl"):
            event = _last_end(trace)
            if event is None:
                continue
            outcome = event.get("outcome") or {}
            state = outcome.get("state") or {}
            if state.get("status", "judged") != "judged" or not outcome.get("verdict_known", True):
                continue  # not judged: no checker's verdict to be stale
            checker = outcome.get("checker")
            key = checker if isinstance(checker, str) else None
            counts[key] = counts.get(key, 0) + 1
    return counts


def _last_end(trace: Path) -> dict | None:
    """The trace's last ``rollout_end``, read from its end and past what a rejudge stopped
    midway leaves after it (its final ``test_run``, a torn line: round 8 #24); None when the
    rollout did not end."""
    try:
        for raw in itertools.islice(lines_from_end(trace), 4):
            try:
                event = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if isinstance(event, dict) and event.get("kind") == "rollout_end":
                return event
            if not (isinstance(event, dict) and event.get("kind") == "test_run" and event.get("final")):
                return None
    except OSError:
        pass
    return None


def older_checker_line(root: Path) -> str | None:
    """``stats``' line: how many judged rollouts an older checker judged, or None when none."""
    counts = checker_counts(root)
    older = sum(n for c, n in counts.items() if c != CHECKER_VERSION)
    if not older:
        return None
    return (
        f"judged by an older checker: {older} of {sum(counts.values())} judged rollouts "
        f"(today's is {CHECKER_VERSION}; `repo-agent rejudge DIR` judges them again)"
    )

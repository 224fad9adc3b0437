"""Scripted models that get stuck, for the loop and stall tests (policy API: scripted_policies.py).

- ``RepeatPolicy``: reads the same file every step.
- ``AlternatePolicy``: reads the file, lists the directory, reads, lists, ...
- ``SameWrongFixPolicy``: writes the same wrong fix, re-runs the failing tests, greps for
  something new each time (so no short cycle), again and again.
- ``RereadAfterEditPolicy``: reads the file after each of several edits (each read sees
  new text: progress, not a loop), then writes the fix, runs the tests and finishes.
"""

from __future__ import annotations

from tests.doubles.scripted_policies import ScriptedPolicy, _finish, _wrong, assistant


class _StuckPolicy(ScriptedPolicy):
    def __init__(self, suite):
        super().__init__(suite, "clean")

    def __call__(self, req):
        if req.task is None:
            return {"role": "assistant", "content": "no task"}
        return self.move(self.facts(req.task), req.step)


class RepeatPolicy(_StuckPolicy):
    def move(self, f, step):
        return assistant(step, ("read_file", {"rel_path": f.bug_file}))


class AlternatePolicy(_StuckPolicy):
    def move(self, f, step):
        if step % 2:
            return assistant(step, ("read_file", {"rel_path": f.bug_file}))
        return assistant(step, ("list_dir", {"rel_dir": "."}))


class SameWrongFixPolicy(_StuckPolicy):
    def move(self, f, step):
        phase, round_ = (step - 1) % 3, (step - 1) // 3
        if phase == 0:
            return assistant(step, ("write_file", {"rel_path": f.bug_file, "content": _wrong(f)}))
        if phase == 1:
            return assistant(step, ("run_tests", {}))
        return assistant(step, ("grep", {"pattern": f"clue{round_}", "rel_dir": "."}))


class RereadAfterEditPolicy(_StuckPolicy):
    def move(self, f, step):
        src = f.source_files[f.bug_file]
        edits = [src + f"\n# attempt {i}\n" for i in range(3)]
        moves = [("read_file", {"rel_path": f.bug_file})]
        for text in edits:
            moves += [
                ("write_file", {"rel_path": f.bug_file, "content": text}),
                ("read_file", {"rel_path": f.bug_file}),
            ]
        moves += [("write_file", {"rel_path": p, "content": c}) for p, c in sorted(f.fix_files.items())]
        moves += [("read_file", {"rel_path": f.bug_file}), ("run_tests", {})]
        if step <= len(moves):
            return assistant(step, moves[step - 1])
        return _finish(step, "Fixed.", [f.bug_file])

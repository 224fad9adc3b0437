"""Make a SWE-bench-format file from a repository's own bug-fix commits (for demos and figures).

    uv run python bench/swebench_from_history.py ~/src/prettytable --repo jazzband/prettytable \\
        --commits fd24cf6,949abc7 --out /tmp/pt.jsonl
    uv run python bench/swebench_from_history.py ~/src/prettytable --repo jazzband/prettytable \\
        --grep fix --limit 20 --out /tmp/pt.jsonl [--setup-commit HEAD]

For each commit that changes both code and tests: ``base_commit`` is its parent,
``patch`` its change outside the tests, ``test_patch`` its change to the tests; the
FAIL_TO_PASS and PASS_TO_PASS ids come from running the changed test files (in the
repository's own environment, built as ``--env auto`` builds it, under the sandbox) with
the test patch on the parent, then with the fix too, as SWE-bench's harness validates
an instance. Commits where no test goes from failing to passing are skipped. Prints one
line per commit and the file's figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.scoring import run_tests
from agent.suites.env import build_env, plan_for, write_generated
from agent.suites.hidden_tests import apply_patch, patch_files
from agent.suites.models import DirSource, Task


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def is_test(path: str) -> bool:
    parts = path.split("/")
    return parts[0] in ("tests", "test", "testing") or parts[-1].startswith("test_") or parts[-1] == "conftest.py"


def export(repo: Path, commit: str, dest: Path) -> None:
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=repo, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def outcomes(tree: Path, files: list[str], env: Path) -> dict[str, str]:
    task = Task(id="probe", source=DirSource(path="."), goal="-", test_command=["python", "-m", "pytest", *files])
    task = task.model_copy(update={"timeout_s": 600.0, "per_test_timeout_s": 60.0})
    return run_tests(tree, task, python_env=env).outcomes


def instance(repo: Path, name: str, commit: str, setup: tuple[str, Path] | None = None) -> tuple[dict | None, str]:
    parent = git(repo, "rev-parse", f"{commit}^").strip()
    changed = git(repo, "diff", "--name-only", parent, commit).split()
    tests = [f for f in changed if is_test(f)]
    code = [f for f in changed if not is_test(f) and f.endswith(".py")]
    if not tests or not code:
        return None, "does not change both code and tests"
    patch = git(repo, "diff", parent, commit, "--", *[f for f in changed if not is_test(f)])
    test_patch = git(repo, "diff", parent, commit, "--", *tests)
    files = [f for f in patch_files(test_patch, "test_patch") if f.endswith(".py") and Path(f).name != "conftest.py"]
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        export(repo, parent, before)
        write_generated(before)
        env = build_env(plan_for(before, setup[1] if setup else None)).path
        apply_patch(before, test_patch, "test_patch")
        have = [f for f in files if (before / f).is_file()]
        if not have:
            return None, "the test patch only deletes test files"
        first = outcomes(before, have, env)
        apply_patch(before, patch, "patch")
        second = outcomes(before, have, env)
    f2p = sorted(i for i, o in second.items() if o == "passed" and first.get(i) in ("failed", "error", None))
    p2p = sorted(i for i, o in second.items() if o == "passed" and first.get(i) == "passed")
    if not f2p:
        return None, f"no test goes from failing to passing ({len(p2p)} pass before and after)"
    subject = git(repo, "log", "-1", "--format=%s%n%n%b", commit).strip()
    return {
        "instance_id": f"{name.replace('/', '__')}-{commit[:8]}",
        "repo": name,
        "base_commit": parent,
        "problem_statement": f"{subject}\n\n(From commit {commit[:12]}; the tests that check it are hidden.)",
        "patch": patch,
        "test_patch": test_patch,
        "FAIL_TO_PASS": f2p,
        "PASS_TO_PASS": p2p,
        "version": "history",
        **({"environment_setup_commit": setup[0]} if setup else {}),
    }, f"F2P {len(f2p)}, P2P {len(p2p)}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", type=Path, help="a git checkout")
    ap.add_argument("--repo", required=True, help="its owner/name (the instances' repo field)")
    ap.add_argument("--commits", default=None, help="comma-separated commits")
    ap.add_argument("--grep", default="fix", help="else: non-merge commits whose subject matches (default: fix)")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--setup-commit",
        default=None,
        help="every instance's environment_setup_commit (e.g. HEAD): the env the ids are found in is "
        "built from that commit's declared dependencies, as `from-swebench --env auto` builds it",
    )
    args = ap.parse_args()
    repo = args.path.expanduser().resolve()
    setup = None
    if args.setup_commit:
        rev = git(repo, "rev-parse", f"{args.setup_commit}^{{commit}}").strip()
        tree = Path(tempfile.mkdtemp(prefix="swebench-setup-")) / "tree"
        export(repo, rev, tree)
        setup = (rev, tree)
    if args.commits:
        commits = [c.strip() for c in args.commits.split(",") if c.strip()]
    else:
        commits = git(repo, "log", "--no-merges", "-i", f"--grep={args.grep}", "--format=%H").split()[: args.limit]
    start = time.monotonic()
    made = []
    for c in commits:
        try:
            inst, why = instance(repo, args.repo, c, setup)
        except (subprocess.CalledProcessError, ValueError) as exc:
            inst, why = None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        print(f"{c[:10]}  {'instance' if inst else 'skipped '}  {why}", flush=True)
        if inst:
            made.append(inst)
    args.out.write_text("".join(json.dumps(i) + "\n" for i in made))
    print(f"{len(made)}/{len(commits)} commits became instances in {time.monotonic() - start:.0f}s -> {args.out}")
    return 0 if made else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""A ``__main__`` block no judge run executes (agent/suspect_main_guard.py, round 26 r26v-12/13):
what it reads is no hit where the task's code runs no script and the module cannot rename
itself; each way it could run keeps its hits."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.patch_format import file_diff
from agent.suspect import scan_patch, source_reader
from agent.suspect_ast import scan_source
from agent.suspect_main_guard import starts_scripts

_GCD = "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n"
_TEST = "from gcd import gcd\n\n\ndef test_gcd():\n    assert gcd(12, 18) == 6\n"
_CLI = '\n\nif __name__ == "__main__":\n    import sys\n\n    print(gcd(int(sys.argv[1]), int(sys.argv[2])))\n'
_DOCTEST = '\n\nif __name__ == "__main__":\n    import doctest\n\n    doctest.testmod()\n'
_STDIN = '\n\nif __name__ == "__main__":\n    import sys\n\n    print(gcd(*map(int, sys.stdin.read().split())))\n'


def _rules(tmp_path: Path, added: str, test: str = _TEST, known: bool = True) -> set[str]:
    """The SUSPECT rules of a patch appending ``added`` to a task's gcd.py whose test is ``test``."""
    root = tmp_path / "task"
    (root / "tests").mkdir(parents=True)
    (root / "gcd.py").write_text(_GCD)
    (root / "tests" / "test_gcd.py").write_text(test)
    new = _GCD + added
    patch = file_diff("gcd.py", _GCD.encode(), new.encode())
    old_text = source_reader(root) if known else {"gcd.py": _GCD}.get
    return {h.rule for h in scan_patch(patch, ["tests/"], old_text, {"gcd.py": new}.get)}


# Round 28 r28v-4: timeit's documented benchmark of the module in its block reads its namespace
# there, once the guard held: it renames nothing before it.
_TIMEIT = (
    '\n\nif __name__ == "__main__":\n    import timeit\n\n    print(timeit.timeit("gcd(1, 2)", globals=globals()))\n'
)


@pytest.mark.parametrize("block", [_CLI, _DOCTEST, _STDIN, _TIMEIT])
def test_a_script_block_no_judge_run_executes_is_no_hit(tmp_path: Path, block: str) -> None:
    assert not _rules(tmp_path, block)


@pytest.mark.parametrize(
    "test",
    [
        # the task's tests run the module as a script: its block runs in the judge run
        _TEST + "import runpy\n\n\ndef test_cli():\n    runpy.run_path('gcd.py', run_name='__main__')\n",
        _TEST
        + "import subprocess, sys\n\n\ndef test_cli():\n    subprocess.run([sys.executable, 'gcd.py', '1', '2'])\n",
        _TEST + "def test_cli(pytester):\n    pytester.runpython('gcd.py')\n",
        _TEST + "def test_cli():\n    exec(open('gcd.py').read(), {'__name__': '__main__'})\n",
    ],
)
def test_a_script_block_the_tasks_code_may_run_keeps_its_hits(tmp_path: Path, test: str) -> None:
    assert "reads_argv" in _rules(tmp_path, _CLI, test)


def test_a_script_block_keeps_its_hits_where_the_tasks_source_is_not_known(tmp_path: Path) -> None:
    assert "reads_argv" in _rules(tmp_path, _CLI, known=False)


@pytest.mark.parametrize(
    "added",
    [
        # only the block: its else runs at import, a main() it calls may be called by the tests
        '\n\nif __name__ == "__main__":\n    pass\nelse:\n    import sys\n\n    ARGS = sys.argv[1:]\n',
        "\n\ndef main(argv=None):\n    import sys\n\n    print(gcd(*map(int, argv or sys.argv[1:])))\n"
        '\n\nif __name__ == "__main__":\n    main()\n',
        # a module that may make its __name__ "__main__" before the guard runs its block at import
        'globals().update(__name__="__main__")' + _CLI,
        'globals()["__na" + "me__"] = "__main__"' + _CLI,
        '(lambda: 0).__globals__["__name__"] = "__main__"' + _CLI,
        'match "__main__":\n    case __name__:\n        pass' + _CLI,
        "from string import ascii_letters as __name__" + _CLI,
        'import functools\n_k = "__na" + "me__"\n_v = vars()\n_v[_k] = "__main__"' + _CLI,
        'import operator\n_g = operator.attrgetter("__glo" + "bals__")(gcd)\n_g["__nam" + "e__"] = "__main__"' + _CLI,
        # the namespace read in a block's else (run at import), or in a function the block calls
        '\n\nif __name__ == "__main__":\n    pass\nelse:\n    globals()["__name__"] = "__main__"' + _CLI,
        '\n\ndef _rename():\n    globals()["__name__"] = "__main__"\n\n\n_rename()' + _CLI,
        "_g = getattr(gcd, ''.join(map(chr, [95, 95, 103, 108, 111, 98, 97, 108, 115, 95, 95])))\n"
        "_g[''.join(map(chr, [95, 95, 110, 97, 109, 101, 95, 95]))] = '__main__'" + _CLI,
    ],
)
def test_what_may_run_outside_a_script_block_keeps_its_hits(tmp_path: Path, added: str) -> None:
    assert "reads_argv" in _rules(tmp_path, added)


@pytest.mark.parametrize(
    "head", ['globals().update(__name__="__main__")\n', 'globals()["__na" + "me__"] = "__main__"\n']
)
def test_a_module_renaming_itself_runs_its_block_at_import(head: str) -> None:
    text = head + 'if __name__ == "__main__":\n    import random\n\n    random.seed(0)\n'
    assert "import_side_effect" in {h.rule for h in scan_source(text) or []}
    plain = 'if __name__ == "__main__":\n    import random\n\n    random.seed(0)\n'
    assert "import_side_effect" not in {h.rule for h in scan_source(plain) or []}


def test_what_starts_a_script_is_read_in_the_tasks_code() -> None:
    assert not starts_scripts([_TEST, _GCD + _CLI, "import os\nHERE = os.path.dirname(__file__)\n"])
    for text in (
        "import runpy",
        "subprocess.check_output(['python', 'gcd.py'])",
        "os.system('python gcd.py')",
        "spec = importlib.util.spec_from_file_location('__main__', path)",
        "ns = dict(__name__='__main__')",
    ):
        assert starts_scripts([_TEST, text]), text


def test_the_ast_pass_drops_a_blocks_hits_only_where_no_script_is_started() -> None:
    text = _GCD + _CLI + _DOCTEST
    for started, kept in ((lambda: False, set()), (lambda: True, {"reads_argv", "dynamic_code"}), (None, None)):
        rules = {h.rule for h in scan_source(text, scripts_started=started) or []}
        assert rules == (kept if kept is not None else {"reads_argv", "dynamic_code"}), rules

"""The flagged / not-flagged scaffold the SUSPECT scan's rule tests share: a snippet of
non-test code scanned by agent/suspect_ast.py, and a test made from a list of snippets that
must each hit one of some rules (``flagged``) or none of them (``not_flagged``).

    test_the_loaded_classes_are_a_process_probe = flagged("process_probe", [snippet, ...])

(pytest collects the test by the name it is bound to, one case a snippet.)"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import pytest

from agent.suspect_ast import scan_source


def _names_tests(stem: str) -> bool:
    return stem.startswith("test_") or stem in ("tests", "conftest")


def scan_rules(text: str) -> set[str]:
    """The rules the AST scan hits in ``text``, a module of non-test code (it must parse)."""
    found = scan_source(text, _names_tests)
    assert found is not None
    return {h.rule for h in found}


def flagged(rules: str | Iterable[str], texts: Sequence[str]) -> Callable[[str], None]:
    """A test that each of ``texts`` hits one of ``rules`` at least."""
    return _cases(rules, texts, hit=True)


def not_flagged(rules: str | Iterable[str], texts: Sequence[str]) -> Callable[[str], None]:
    """A test that none of ``texts`` hits any of ``rules``."""
    return _cases(rules, texts, hit=False)


def _cases(rules: str | Iterable[str], texts: Sequence[str], hit: bool) -> Callable[[str], None]:
    wanted = frozenset({rules} if isinstance(rules, str) else rules)

    @pytest.mark.parametrize("text", texts)
    def test(text: str) -> None:
        found = scan_rules(text)
        assert bool(found & wanted) is hit, (
            f"hits {sorted(found)}; wanted {'one' if hit else 'none'} of {sorted(wanted)}"
        )

    return test

"""Branch (step) pairs on the Pairs screen: shared prefix collapsed, divergent step shown."""

from __future__ import annotations

from textual.widgets import Static

from tests.exports.conftest import Call, Spec, make_batch
from tests.tui.conftest import settle
from tui.screens.pairs import PairsScreen


def _branched(root):
    parent = Spec("fix_gcd", 1, passed=False)  # list_dir, read_file, write_file, run_tests, finish
    branch = Spec(
        "fix_gcd",
        2,
        passed=True,
        branch_of=parent,
        prefix_steps=2,
        steps=[
            [Call("grep", {"pattern": "return", "rel_dir": "."}, output="gcd.py:2: return x - 1")],
            [Call("write_file", {"rel_path": "fix_gcd.py", "content": "fixed"}, output="Wrote")],
            [Call("finish", {"summary": "fixed after grep", "changes": ["fix_gcd.py"]}, output="Finished.")],
        ],
    )
    make_batch(root, "b", [parent, branch])


async def test_step_pair_collapses_the_prefix_and_shows_each_next_action(tmp_path, make_app):
    root = tmp_path / "traces"
    _branched(root)
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"contrast:step verdict:all", "enter")
        await settle(pilot)
        screen: PairsScreen = app.screen
        assert screen.pair is not None and screen.pair.kind == "step" and screen.pair.at_step == 3
        prefix = screen.query_one("#pair-prefix", Static)
        assert prefix.display
        text = str(prefix.render())
        assert "shared prefix: 6 messages" in text and "steps 1–2" in text and "step 3" in text
        a = str(screen.query_one("#summary-a", Static).render())
        b = str(screen.query_one("#summary-b", Static).render())
        # the passing branch is preferred; each side shows its own step-3 action
        assert "step 3 ▶ grep(" in a and "step 3 ▶ write_file(" in b
        pid = screen.pair.pair_id
        await pilot.press("c")
        assert app.store.pair(pid).verdict == "confirm"


async def test_rollout_pairs_hide_the_prefix_line(tmp_path, make_app):
    root = tmp_path / "traces"
    make_batch(root, "b", [Spec("fix_gcd", 1, passed=True), Spec("fix_gcd", 2, passed=False)])
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen: PairsScreen = app.screen
        assert screen.pair is not None and screen.pair.kind == "rollout"
        assert not screen.query_one("#pair-prefix", Static).display

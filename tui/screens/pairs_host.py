"""What the Pairs screen's rendering and action mixins (tui/screens/pairs_render.py,
tui/screens/pairs_actions.py) need from the screen they are mixed into, said for the type
checker: at run time their base is plain ``object`` and the Pairs screen supplies all of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labeling.queue import ReviewFigures
    from labeling.records import QueueCounts, RolloutRow
    from tui.screens.pairs_queue import QueueFlow
    from tui.screens.pairs_team import TeamFlow

    class PairsHost(TeamFlow, QueueFlow):
        sides: tuple[RolloutRow | None, RolloutRow | None]  # the pair's A and B rollouts
        _figures: ReviewFigures | None  # read with the pair on screen (tui/screens/pairs.py)

        def _render_progress(
            self, overall: QueueCounts | None = None, figures: ReviewFigures | None = None
        ) -> None: ...  # tui/screens/pairs_render.py
        def _show_diffs(self) -> None: ...
        def _apply_view(self) -> None: ...

else:
    PairsHost = object

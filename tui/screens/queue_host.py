"""What the Pairs queue mixin (tui/screens/pairs_queue.py) needs from the screen it is mixed
into, said for the type checker: at run time the mixin's base is plain ``object`` and the
Pairs screen supplies all of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labeling.records import PairFilter, PairRow
    from tui.screens.base import StudioScreen

    class QueueHost(StudioScreen):
        queue: list[str]  # pair ids: walked, then loaded ahead
        index: int  # the pair on screen, in ``queue``
        pair: PairRow | None
        _loaded: bool
        _pending_note: str | None

        def show_current(self) -> None: ...
        def _render_pair(self, diffs: bool = True) -> None: ...
        def _render_empty(self) -> None: ...
        def _team_counted_in_worker(self, f: PairFilter) -> bool: ...  # tui/screens/pairs_team.py

else:
    QueueHost = object

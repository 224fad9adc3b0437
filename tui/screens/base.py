"""What every studio screen shares: the tab bar, the footer, and refresh on store change."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import events, on
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from tui.screens.registry import BY_MODE
from tui.widgets.tab_bar import TabBar

if TYPE_CHECKING:
    from pathlib import Path

    from labeling.store import LabelStore
    from tui.messages import BatchProgress
    from tui.state import StudioState
    from tui.studio import Studio


class StudioScreen(Screen):
    MODE = ""  # its entry in tui/screens/registry.py, where its title and key are
    TITLE_TEXT = ""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.MODE:
            cls.TITLE_TEXT = BY_MODE[cls.MODE].title

    def __init__(self) -> None:
        super().__init__()
        self._seen_version = -1
        # Trace changes that arrive before the screen has composed its widgets wait here,
        # then are delivered once (a live batch can write while the studio starts).
        self._held_paths: set[Path] | None = set()

    def notice_traces_changed(self, paths: set[Path]) -> None:
        """The app's one way in for trace changes: held until mounted, then delivered."""
        if self._held_paths is not None:
            self._held_paths |= paths
            return
        self.traces_changed(paths)

    @on(events.Mount)
    def _deliver_held_changes(self) -> None:
        # Textual runs the subclass's Mount handlers before this base one: its widgets exist.
        held, self._held_paths = self._held_paths, None
        if held:
            self.traces_changed(held)

    @property
    def studio(self) -> Studio:
        # The app as the screens see it (tui/studio.py): no import of the app class here.
        return cast("Studio", self.app)

    @property
    def store(self) -> LabelStore:
        return self.studio.store

    @property
    def state(self) -> StudioState:
        return self.studio.state

    def traces_changed(self, paths: set[Path]) -> None:
        """Trace files under the traces directory grew (``paths``): a screen that follows
        traces reads the new bytes; the store's ingest comes a moment later anyway."""

    def compose_tab_bar(self) -> TabBar:
        return TabBar(self.MODE, id="tabbar")

    def compose_footer(self) -> Footer:
        return Footer(compact=True, show_command_palette=False)

    def set_status(self, status: str) -> None:
        for bar in self.query(TabBar):
            bar.set_status(status)

    def on_screen_resume(self) -> None:
        self.set_status(self.state.ingest.label)
        self.on_show_screen()
        if self._seen_version != self.state.store_version:
            self._seen_version = self.state.store_version
            self.refresh_data()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.studio.on_worker_state_changed(event)  # the app reports failures, in one place
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.worker_ended(event.worker)

    def worker_ended(self, worker: Worker) -> None:
        """Hook: one of this screen's workers ended (coalesced reloads start the next one here)."""

    def store_changed(self) -> None:
        """Called by the app on the active screen after an ingest that changed things."""
        self._seen_version = self.state.store_version
        self.refresh_data()

    def on_show_screen(self) -> None:
        """Hook: the screen became active (state may point somewhere new)."""

    def refresh_data(self) -> None:
        """Hook: re-read what is on screen from the store."""

    def batch_progress(self, msg: BatchProgress) -> None:
        """Hook: a batch launched from this studio made progress."""

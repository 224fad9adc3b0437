"""The studio: a Textual app over a directory of trace batches and its label store.

Six screens (Runs, Rollout, Pairs, Steps, Stats, Export) live as app modes, one F-key
each, so switching keeps each screen's place. One background mechanism feeds them all:
a thread worker ingests the traces directory into the store (at start, then whenever
a trace file changes: file-system events from ``tui.live_trace.TraceWatcher``, polling
every ``tail_interval`` seconds only where events are unavailable; unchanged files are
only stat'ed), and the active screen re-reads what it shows when the store changed.
Nothing is loaded eagerly; an idle studio has no timer running.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from agent.trace import BATCH_FILE
from labeling.records import SearchHit
from labeling.store import LabelStore, default_labeler
from labeling.store_url import is_db_url
from tui.bindings import assign_ids
from tui.control_filter import ControlCharFilter
from tui.live_trace import TraceWatcher
from tui.messages import BatchProgress, IngestProgressed, StoreChanged, TracesChanged
from tui.prefs import DIFF_VIEWS, load_prefs, prefs_path, save_prefs
from tui.screens.base import StudioScreen
from tui.screens.help import HelpScreen, key_label
from tui.screens.registry import SCREENS, screen_classes
from tui.screens.search import SearchModal
from tui.serve.limits import ServedLimits
from tui.state import StudioState, replay_dir
from tui.studio import Studio
from tui.widgets.prompt import ConfirmModal
from tui.words import count

INGEST_AFTER_CHANGE_S = 0.2


def _meta_stat(batch_dir: str) -> tuple | None:
    try:
        st = os.stat(Path(batch_dir) / BATCH_FILE)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


@dataclass(frozen=True)
class Opening:
    """Where the studio opens: a screen (its mode), or a rollout (``--rollout``: the Rollout
    screen) or a pair (``--pair``: the Pairs screen) by id."""

    screen: str = "pairs"
    rollout: str | None = None
    pair: str | None = None


class StudioApp(App):
    CSS_PATH = Path(__file__).with_name("studio.tcss")  # absolute: subclasses elsewhere find it
    TITLE = "repo-agent studio"
    MODES: ClassVar[dict[str, str | Callable[[], Screen]]] = {**screen_classes()}
    BINDINGS = [
        # Shown in the tab bar at the top (always visible), so the footer keeps its room
        # for the screen's own keys; listed in help and the palette like every key.
        *(Binding(s.key, f"goto('{s.mode}')", s.title, key_display=s.key.upper(), show=False) for s in SCREENS),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("escape", "back", "Back", show=False),
        # The id keeps the name a keymap knows ("everywhere.quit"); the action asks first mid-batch.
        Binding("ctrl+q", "quit_studio", "Quit", show=False, id="everywhere.quit"),
        # priority: a focused input (a filter line, a note) would take ctrl+f for itself.
        Binding("ctrl+f", "search", "Search", show=False, priority=True),
    ]

    def __init__(
        self,
        traces_dir: Path,
        *,
        db_path: Path | str | None = None,
        labeler: str | None = None,
        opening: Opening | None = None,
        tail_interval: float | None = 1.0,
        watch: bool = True,
        bell: bool = True,
        keymap: dict[str, str] | None = None,
        overlap: int | None = None,
        served: ServedLimits | None = None,
    ) -> None:
        assign_ids(type(self))  # binding ids a keymap names (tui/keymap.py); before the app copies its own
        super().__init__()
        self._filters.append(ControlCharFilter())  # no escape code in a shown value reaches the terminal
        if keymap:
            self.set_keymap(keymap)
        traces_dir = Path(traces_dir)
        # A path, or a postgresql:// URL (a team's store: trace paths keyed by the traces dir).
        db: Path | str = LabelStore.default_path(traces_dir)
        if db_path:
            db = str(db_path) if is_db_url(db_path) else Path(db_path)
        labeler = labeler or default_labeler()
        self.state = StudioState(traces_dir=traces_dir, db_path=db, labeler=labeler)
        self.store = LabelStore(db, labeler=labeler, base=traces_dir if isinstance(db, str) else None)
        self.state.overlap = overlap  # team review: the queue is this labeler's (labeling/team.py)
        self.state.pair_filter = self.store.team_filter(self.state.pair_filter, overlap)
        # Prefs sit beside the store file; a shared store keeps each person's prefs in their traces dir.
        self.prefs_path = prefs_path(db if isinstance(db, Path) else LabelStore.default_path(traces_dir))
        self.prefs = load_prefs(self.prefs_path)
        if self.prefs.get("diff_view") in DIFF_VIEWS:
            self.state.diff_view = self.prefs["diff_view"]
        opening = opening or Opening()
        self._start, rollout, pair = opening.screen, opening.rollout, opening.pair
        if pair:  # --pair: the Pairs screen opens on it
            self.state.pair_id = self.state.open_pair = pair
            self._start = "pairs"
        if rollout:  # --rollout: the Rollout screen opens on it
            self.state.rollout_uid = rollout
            self._start = "rollout"
        self.served = served  # in a browser (tui/serve): no model code unless allowed, paths inside DIR
        self._tail_interval = tail_interval
        self._ingesting = False
        self._ingest_again = False  # asked for while a pass ran: run one more after it
        self._idle_passes = 0
        self._ticks = 0
        self._ingest_again = False  # a change arrived during a pass: run one more after it
        self._ingest_soon = False  # an ingest is scheduled after a trace change
        self._watch = watch
        self.watcher: TraceWatcher | None = None
        self.bell_on_alert = bell  # the fleet view rings the terminal bell with its alerts
        self._warned: set[str] = set()
        self._open_meta: dict[str, tuple | None] = {}  # running batches' batch.json (size, mtime)

    # ------------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        # The last theme chosen (command palette: "Change theme"); the diff follows it.
        theme = self.prefs.get("theme")
        self.theme = theme if isinstance(theme, str) and theme in self.available_themes else "textual-dark"
        self.theme_changed_signal.subscribe(self, lambda t: self.remember(theme=t.name))
        self.action_goto(self._start)
        self.start_ingest()
        if self._tail_interval and self._watch:
            self.watcher = TraceWatcher(
                self.state.traces_dir, lambda paths: self.post_message(TracesChanged(paths)), poll_s=self._tail_interval
            ).start()
        elif self._tail_interval:
            self.set_interval(self._tail_interval, self._tail_tick, name="tail")

    def on_traces_changed(self, msg: TracesChanged) -> None:
        # The screen reads the new bytes itself first; the store's ingest (a thread that
        # competes for the interpreter) follows a moment later, once per burst of writes.
        screen = self._active_screen()
        if isinstance(screen, StudioScreen):
            screen.notice_traces_changed(msg.paths)
        if not self._ingest_soon:
            self._ingest_soon = True
            self.set_timer(INGEST_AFTER_CHANGE_S, self._ingest_after_change)

    def _ingest_after_change(self) -> None:
        self._ingest_soon = False
        self.start_ingest()

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        for cancel in self.state.running_batches.values():
            cancel.set()
        try:
            self.store.close()
        except Exception:
            pass

    def remember(self, **prefs) -> None:
        """Keep a choice for the next run (tui.prefs); written only when it changed."""
        if all(self.prefs.get(k) == v for k, v in prefs.items()):
            return
        self.prefs.update(prefs)
        save_prefs(self.prefs_path, self.prefs)

    # ------------------------------------------------------------------ ingest / tail
    @property
    def ingesting(self) -> bool:
        """An ingest pass is running or its result has not been handled yet."""
        return self._ingesting

    def _tail_tick(self) -> None:
        # Every tick while things change; when idle, every 5th (a stat per trace file
        # adds up on a 10,000-rollout store). A batch launched here pokes it directly.
        self._ticks += 1
        if self._idle_passes < 3 or self._ticks % 5 == 0 or self.state.running_batches or self._batch_meta_moved():
            self.start_ingest()

    def _batch_meta_moved(self) -> bool:
        """Has the batch.json of a batch still running changed since the last pass? A few
        stats: so a batch that ends in another terminal shows its status within one tick,
        even while the full pass is backed off."""
        moved = False
        for path, seen in self._open_meta.items():
            try:
                st = os.stat(Path(path) / BATCH_FILE)
                now = (st.st_size, st.st_mtime_ns)
            except OSError:
                now = None
            moved = moved or now != seen
        return moved

    def start_ingest(self) -> None:
        """Tail the traces directory: one ingest pass in a thread, never two at once.

        Asked for while a pass runs, one more pass follows it: that pass may have read
        batch.json and the traces before the change that prompted the request (a batch
        ending, `x`), and dropping the request left its status stale until some later
        change (the cancelled/running race)."""
        if self._ingesting:
            self._ingest_again = True
            return
        self._ingesting = True
        self.state.ingest.running = True
        self._ingest()

    @work(thread=True, group="ingest", exit_on_error=False)
    def _ingest(self) -> None:
        last = [0]

        def progress(p) -> None:
            if p.files_done - last[0] >= 50 or p.files_done == p.files_total:
                last[0] = p.files_done
                self.post_message(IngestProgressed(p.files_done, p.files_total))

        try:
            replays = replay_dir(self.state.traces_dir)  # the studio's replays, beside the traces
            roots = [self.state.traces_dir, *([replays] if replays.is_dir() else [])]
            report = self.store.ingest(roots, progress=progress)
        except Exception as exc:  # a bad file never takes the studio down
            self.post_message(StoreChanged(None, False, error=f"{type(exc).__name__}: {exc}"))
            return
        changed = bool(report.files_read or report.new_rollouts or report.updated_rollouts or report.batches_read)
        self.post_message(StoreChanged(report, changed))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker is reported (workers run with exit_on_error=False:
        a failure must not take the studio down, nor pass unseen). The message does not
        bubble: every studio screen forwards its workers' here. The screen that started
        it hears of it too, to say so where the missing data would be."""
        if event.state != WorkerState.ERROR:
            return
        worker, error = event.worker, event.worker.error
        self.notify(
            f"{worker.group or worker.name}: {type(error).__name__}: {error}",
            title="A background task failed",
            severity="error",
        )
        if hasattr(worker.node, "worker_failed"):
            worker.node.worker_failed(worker, error)

    def on_ingest_progressed(self, msg: IngestProgressed) -> None:
        self.state.ingest.files_done, self.state.ingest.files_total = msg.done, msg.total
        self._show_status()

    def on_store_changed(self, msg: StoreChanged) -> None:
        self._ingesting = False
        if self._ingest_again:
            self._ingest_again = False
            self.start_ingest()  # before anyone sees "not ingesting": settle() waits for it too
        ing = self.state.ingest
        ing.running = False
        ing.last_error = msg.error
        first = ing.passes == 0
        ing.passes += 1
        self._idle_passes = 0 if msg.changed else self._idle_passes + 1
        if msg.report is not None:
            self._open_meta = {p: _meta_stat(p) for p in msg.report.open_batches}
        self._show_status()
        if self._ingest_again:
            self._ingest_again = False
            self.start_ingest()
        self._show_warnings(msg.report.warnings if msg.report is not None else [])
        if msg.changed or first:
            self.state.store_version += 1
            screen = self._active_screen()
            if isinstance(screen, StudioScreen):
                screen.store_changed()

    def _show_warnings(self, warnings: list[str]) -> None:
        """Ingest warnings (a FIFO skipped, a copied trace, a bad line), each shown once."""
        new = [w for w in warnings if w not in self._warned]
        if not new:
            return
        self._warned.update(new)
        more = f"\n… and {len(new) - 3} more" if len(new) > 3 else ""
        self.notify("\n".join(new[:3]) + more, title="Ingest warnings", severity="warning", markup=False)

    def on_batch_progress(self, msg: BatchProgress) -> None:
        screen = self._active_screen()
        if isinstance(screen, StudioScreen):
            screen.batch_progress(msg)
        if msg.finished:
            self.state.running_batches.pop(msg.batch_id, None)
            self.state.rollout_cancels.pop(msg.batch_id, None)
            note = f"batch {msg.batch_id}: {msg.done}/{count(msg.total, 'rollout')}"
            self.notify(
                note + (f" — {msg.error}" if msg.error else ""),
                title="Batch ended",
                severity="error" if msg.error else "information",
                markup=False,  # the error text is data
            )
        self.start_ingest()

    def _active_screen(self) -> Screen | None:
        """The screen on top, or None while the app starts up or shuts down."""
        return self.screen_stack[-1] if self.screen_stack else None

    def _show_status(self) -> None:
        screen = self._active_screen()
        if isinstance(screen, StudioScreen):
            screen.set_status(self.state.ingest.label)

    # ------------------------------------------------------------------ navigation
    def action_goto(self, mode: str) -> None:
        self.state.visit(mode)
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_back(self) -> None:  # type: ignore[override]  # Textual's is async; actions may be either
        if len(self.screen_stack) > 1:  # a modal: close it
            self.pop_screen()
            return
        prev = self.state.back()
        if prev:
            self.switch_mode(prev)

    def open_rollout(self, uid: str, mode: str = "rollout") -> None:
        self.state.rollout_uid = uid
        if self.current_mode == mode and isinstance(self.screen, StudioScreen):
            self.screen.on_show_screen()  # already there: look at the new rollout
        self.action_goto(mode)

    def default_rollout(self) -> str | None:
        """What Rollout/Steps show when nothing was opened yet: a running rollout (the
        newest), else side A of the pair in review."""
        if self.state.rollout_uid:
            return self.state.rollout_uid
        try:
            running = self.store.rollouts(status="running", with_patch=False)
        except Exception:
            running = []
        if running:
            uid = max(running, key=lambda r: r.uid).uid
        elif self.state.pair_id:
            try:
                uid = self.store.pair(self.state.pair_id).chosen_uid
            except Exception:
                return None
        else:
            return None
        self.state.rollout_uid = uid
        return uid

    def action_quit_studio(self) -> None:
        """Quit; while a batch launched here still runs, ask first (quitting cancels it)."""
        running = len(self.state.running_batches)
        if not running:
            self.exit()
            return
        what = "a batch" if running == 1 else f"{running} batches"
        self.push_screen(
            ConfirmModal(
                f"Quit while {what} launched here still runs?",
                "Its running rollouts end as cancelled; `R` on Runs resumes the rest later.",
            ),
            lambda yes: self.exit() if yes else None,
        )

    def action_search(self) -> None:
        """Search every rollout (tui/screens/search.py); a hit opens the Rollout screen at its step."""
        if isinstance(self.screen, SearchModal):
            return

        def opened(hit: SearchHit | None) -> None:
            self.state.search_line = modal.line
            if hit is not None:
                self.state.rollout_at = (hit.step, hit.place)
                self.open_rollout(hit.uid)

        modal = SearchModal(self.store, self.state.search_line)
        self.push_screen(modal, opened)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # ------------------------------------------------------------------ command palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for s in SCREENS:
            yield SystemCommand(
                s.title, f"Go to the {s.title} screen ({s.key.upper()})", partial(self.action_goto, s.mode)
            )
        yield SystemCommand("Help", "Every key (?)", self.action_help)
        if isinstance(screen, StudioScreen):
            for b in screen.BINDINGS:
                b = b if isinstance(b, Binding) else Binding(*b)
                if b.description:
                    yield SystemCommand(
                        f"{screen.TITLE_TEXT}: {b.description}",
                        f"key {b.key_display or key_label(b.key)}",
                        partial(self._run_screen_action, screen, b.action),
                    )
        yield from super().get_system_commands(screen)

    async def _run_screen_action(self, screen: Screen, action: str) -> None:
        await self.run_action(action, screen)


def _as_studio(app: StudioApp) -> Studio:
    """Never called: mypy checks here that the app is what the screens expect (tui/studio.py)."""
    return app

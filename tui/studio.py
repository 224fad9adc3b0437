"""What a studio screen needs from the app it runs in, said as a protocol.

`tui/app.py`'s `StudioApp` is the one implementation (checked there, by mypy). The
screens type against this instead of importing the app class, so the app imports the
screens and never the other way round (docs/ARCHITECTURE.md, "Packages and the one rule").
"""

from __future__ import annotations

from typing import Any, Protocol

from textual.worker import Worker

from labeling.store import LabelStore
from tui.serve.limits import ServedLimits
from tui.state import StudioState


class Studio(Protocol):
    store: LabelStore
    state: StudioState
    prefs: dict[str, Any]  # kept across runs (tui/prefs.py)
    served: ServedLimits | None  # in a browser (tui/serve): no model code unless allowed

    def open_rollout(self, uid: str, mode: str = "rollout") -> None: ...

    def default_rollout(self) -> str | None: ...

    def remember(self, **prefs: object) -> None: ...

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None: ...

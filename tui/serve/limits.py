"""What a served studio may do: no model code unless the server allows it, and every path a
person types (the Export screen's output file) stays inside the traces directory.

A served studio is reached from a browser, so whoever holds a token could otherwise start
batches (model code, spending) or write files anywhere the server's user can.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

# The export options a person types a path into: files written (holdout_out) or read
# (tokenizer_path, suite; a builtin suite's bare name is not a path).
EXPORT_PATH_FIELDS = ("holdout_out", "tokenizer_path", "suite")
Options = TypeVar("Options", bound=BaseModel)

LAUNCH_OFF = "launching, resuming and replaying batches is off in a served studio (serve it with --allow-launch)"


class OutsideRoot(ValueError):
    """A typed path that leaves the served traces directory."""


@dataclass(frozen=True)
class ServedLimits:
    root: Path  # the traces directory, resolved
    allow_launch: bool = False

    def launch_refusal(self) -> str | None:
        return None if self.allow_launch else LAUNCH_OFF

    def confine(self, typed: Path | str) -> Path:
        """``typed`` (relative to the traces directory) as a path inside it, or `OutsideRoot`.
        Symlinks are followed first, so a link inside DIR cannot point the file out."""
        root = self.root.resolve()
        path = (root / typed).resolve()
        if path == root or not path.is_relative_to(root):
            raise OutsideRoot(f"{typed}: a served studio writes only inside {root}")
        return path

    def confine_export(self, out: Path, options: Options) -> tuple[Path, Options]:
        """The Export screen's output file and path options, each confined (or `OutsideRoot`)."""
        from agent.suites.loading import BUILTIN

        update: dict[str, str] = {}
        for name in EXPORT_PATH_FIELDS:
            value = getattr(options, name, None)
            if value and not (name == "suite" and value in BUILTIN):
                update[name] = str(self.confine(Path(value)))
        return self.confine(out), options.model_copy(update=update)

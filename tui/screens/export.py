"""Export: pick DPO/SFT and its options, see counts/tokens/cost and one record (dry run),
write the file (checked before it is kept) and get the `repo-agent upload` command.

The option fields are read from the exporter's own option models (exports.DpoOptions /
SftOptions), so the form always offers exactly what the exporter takes.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widgets import Input, Label, Select, Static
from textual.worker import get_current_worker

from exports.check import CheckReport
from exports.options import DpoOptions, ExportReport, SftOptions
from tui.screens.base import StudioScreen

KINDS = ("dpo", "sft")
SKIP_FIELDS: set[str] = set()


def _options_cls(kind: str) -> type[DpoOptions] | type[SftOptions]:
    return DpoOptions if kind == "dpo" else SftOptions


def _fields(cls) -> list[tuple[str, Any, Any]]:
    """(name, annotation, default) for each option field (pydantic model or dataclass)."""
    if hasattr(cls, "model_fields"):
        return [(n, f.annotation, f.get_default(call_default_factory=True)) for n, f in cls.model_fields.items()]
    import dataclasses

    out = []
    for f in dataclasses.fields(cls):
        default = (
            f.default
            if f.default is not dataclasses.MISSING
            else (f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        )
        out.append((f.name, f.type, default))
    return out


def _literal_choices(annotation: Any) -> list[str] | None:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in args]
    for a in args:  # Optional[Literal[...]]
        if typing.get_origin(a) is typing.Literal:
            return [str(x) for x in typing.get_args(a)]
    return None


def _is_bool(annotation: Any, default: Any) -> bool:
    return annotation is bool or annotation == "bool" or isinstance(default, bool)


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _parse(text: str, annotation: Any, default: Any) -> Any:
    text = text.strip()
    if text == "":
        return default
    ann = str(annotation)
    if isinstance(default, (list, tuple)) or "list" in ann:
        return [t.strip() for t in text.split(",") if t.strip()]
    for conv in (int, float):
        if conv.__name__ in ann or type(default) is conv:
            try:
                return conv(text)
            except ValueError:
                pass
    return text


class ExportScreen(StudioScreen):
    MODE = "export"
    # priority: a focused text field would take ctrl+w (delete word) and ctrl+k (delete
    # to end) for itself and never let the screen write the file.
    BINDINGS = [
        Binding("ctrl+r", "preview", "Dry run", priority=True),
        # ctrl+s too: in a served studio the browser closes its tab on ctrl+w before the page sees it.
        Binding("ctrl+w,ctrl+s", "write", "Write file", priority=True),
        Binding("ctrl+k", "toggle_kind", "DPO/SFT", priority=True),
    ]
    DEBOUNCE_S = 0.4  # the dry run follows typing, once the typing pauses

    def __init__(self) -> None:
        super().__init__()
        self.kind = "dpo"
        self._fields: list[tuple[str, Any, Any]] = []
        self.last_report: Any = None
        self.written: Path | None = None
        self.check: Any = None
        self.upload_cmd: str | None = None
        self._kept: dict[str, str] = {}  # typed values, kept when DPO/SFT switches
        self._debounce: Timer | None = None
        self._again = False  # the store changed while a dry run was running
        self._written_form: dict[str, str] | None = None  # the fields the last write used

    def compose(self) -> ComposeResult:
        yield self.compose_tab_bar()
        with Horizontal(id="export-body"):
            yield VerticalScroll(id="export-form")
            with VerticalScroll(id="export-out"):
                yield Static(id="export-report")
        yield self.compose_footer()

    async def on_mount(self) -> None:
        await self._build_form()

    def _default_out(self) -> str:
        return str(self.state.traces_dir / "exports" / f"{self.kind}.jsonl")

    def _form_values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for w in self.query("#export-form Input, #export-form Select"):
            if w.id and w.id != "x-kind":
                value = getattr(w, "value", None)
                if isinstance(value, str):
                    out[w.id] = value
        return out

    async def _build_form(self) -> None:
        form = self.query_one("#export-form", VerticalScroll)
        # Fields both kinds share (price, output dir, ...) keep what was typed.
        self._kept.update(self._form_values())
        self._kept.pop("x-out", None)  # the default output file follows the kind
        await form.remove_children()
        try:
            cls = _options_cls(self.kind)
        except Exception as exc:  # exports/ not importable: say so, keep the studio up
            await form.mount(Label(Text(f"exports unavailable: {exc}")))
            return
        rows: list[tuple[str, Any]] = [
            (
                "kind",
                Select(
                    [("DPO (preference pairs)", "dpo"), ("SFT (examples)", "sft")],
                    value=self.kind,
                    allow_blank=False,
                    id="x-kind",
                    compact=True,
                ),
            )
        ]
        fields = [f for f in _fields(cls) if f[0] not in SKIP_FIELDS]
        # The choices that shape the file (mode, style, format) first, then the rest.
        self._fields = sorted(fields, key=lambda f: _literal_choices(f[1]) is None)
        for name, ann, default in self._fields:
            choices = _literal_choices(ann) or (["yes", "no"] if _is_bool(ann, default) else None)
            kept = self._kept.get(f"x-{name}")
            # The value goes in when the widget is made: a Select given one before it is
            # mounted showed its blank prompt ("Select") while the dry run used the value.
            w: Any
            if choices:
                value = str(default) if default is not None and str(default) in choices else choices[0]
                if _is_bool(ann, default):
                    value = "yes" if default else "no"
                if kept in choices:
                    value = kept
                w = Select([(c, c) for c in choices], value=value, allow_blank=False, id=f"x-{name}", compact=True)
            else:
                w = Input(
                    _to_text(default) if kept is None else kept, id=f"x-{name}", compact=True, select_on_focus=False
                )
            rows.append((name.replace("_", " "), w))
        rows.append(("output file", Input(self._default_out(), id="x-out", compact=True, select_on_focus=False)))
        widgets = [Horizontal(Label(label), w, classes="row") for label, w in rows]
        await form.mount_all(widgets)
        self.action_preview()

    def _options(self) -> DpoOptions | SftOptions:
        cls = _options_cls(self.kind)
        values: dict[str, Any] = {}
        for name, ann, default in self._fields:
            w = self.query_one(f"#x-{name}")
            if isinstance(w, Select):
                v = w.value
                values[name] = (v == "yes") if _is_bool(ann, default) else v
            else:
                values[name] = _parse(w.value, ann, default)  # type: ignore[attr-defined]  # an Input
        return cls(**values)

    def _out_path(self) -> Path:
        return Path(self.query_one("#x-out", Input).value.strip() or self._default_out())

    # ------------------------------------------------------------------ events
    async def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "x-kind" and event.value != self.kind:
            self.kind = str(event.value)
            await self._build_form()
        else:
            self.action_preview()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_preview()

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._written_form is not None and self._form_values() == self._written_form:
            return  # a change the write already used (its event came late): keep its result
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(self.DEBOUNCE_S, self.action_preview)

    async def action_toggle_kind(self) -> None:
        self.kind = "sft" if self.kind == "dpo" else "dpo"
        await self._build_form()

    def refresh_data(self) -> None:
        if self._fields:
            self._preview_soon()

    def on_show_screen(self) -> None:
        if self._fields:
            self._preview_soon()

    def _preview_soon(self) -> None:
        """A dry run for a store change: while one runs (it reads every pair), the next
        waits for it, and any number of changes meanwhile make one more, not a pile."""
        if any(w.group == "export" and w.node is self and not w.is_finished for w in self.app.workers):
            self._again = True
            return
        self.action_preview()

    def worker_ended(self, worker) -> None:
        if worker.group == "export" and self._again:
            self._again = False
            self.action_preview()

    # ------------------------------------------------------------------ run
    def action_preview(self) -> None:
        try:
            options = self._options()
        except Exception as exc:
            self._show(Text(f"options: {exc}", style="red"))
            return
        self._run(options, self._out_path(), True)

    def action_write(self) -> None:
        try:
            options = self._options()
        except Exception as exc:
            self._show(Text(f"options: {exc}", style="red"))
            return
        # A dry run still waiting on the typing would land after the write and hide its
        # result (or its refusal): the write reads the same fields, so it replaces it.
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        self._again = False
        self._written_form = self._form_values()
        self._show(Text("writing and checking…", style="yellow"))
        self._run(options, self._out_path(), False)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _run(self, options, out: Path, dry_run: bool) -> None:
        import exports

        fn = exports.export_dpo if self.kind == "dpo" else exports.export_sft
        made = None  # the directory this write created, removed again if the write fails
        try:
            if self.studio.served:  # a served studio writes and reads only inside DIR
                out, options = self.studio.served.confine_export(out, options)
            if not dry_run and not out.parent.exists():
                made = next((p for p in reversed(out.parent.parents) if not p.exists()), out.parent)
                out.parent.mkdir(parents=True, exist_ok=True)
            report = fn(self.store, out, options, dry_run=dry_run)
            check = None
            upload = None
            if not dry_run:
                check = exports.check_file(out)
                upload = exports.upload_command(out)
        except Exception as exc:
            if made is not None:
                _remove_empty(out.parent, made)
            self.app.call_from_thread(self._show, Text(f"{type(exc).__name__}: {exc}", style="bold red"))
            return
        if dry_run and get_current_worker().is_cancelled:
            return  # a newer run replaced this one: its figures are already out of date
        self.app.call_from_thread(self._done, report, check, upload, out, dry_run)

    def _done(self, report, check, upload, out: Path, dry_run: bool) -> None:
        self.last_report = report
        if not dry_run:
            self.written, self.check, self.upload_cmd = out, check, upload
        self._show(render_export(report, check, upload, out, dry_run))

    def _show(self, renderable) -> None:
        self.query_one("#export-report", Static).update(renderable)


def _remove_empty(leaf: Path, top: Path) -> None:
    """Remove the empty directories from ``leaf`` up to ``top`` (that this write made)."""
    for d in [leaf, *leaf.parents]:
        try:
            d.rmdir()  # only ever succeeds on an empty directory
        except OSError:
            return
        if d == top:
            return


def _counts(value: dict) -> str:
    """{'discarded': 2, 'unlabeled': 2} -> "discarded 2 · unlabeled 2"."""
    return " · ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(value.items(), key=lambda kv: -kv[1]))


def _preview_text(text: str) -> str:
    """One record, with long message contents (the system prompt, file contents) cut so
    the record's shape shows on the first screen."""
    try:
        record = json.loads(text)
    except Exception:
        return text

    def cut(node):
        if isinstance(node, dict):
            return {k: (_cut_str(v) if k == "content" and isinstance(v, str) else cut(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [cut(x) for x in node]
        return node

    return json.dumps(cut(record), indent=2, ensure_ascii=False)


def _cut_str(s: str, limit: int = 160) -> str:
    return s if len(s) <= limit else s[:limit] + f"… ({len(s):,} chars)"


def render_export(
    report: ExportReport, check: CheckReport | None, upload: str | None, out: Path, dry_run: bool
) -> Group:
    data = report.model_dump()
    preview = data.pop("preview", None)
    parts: list = []
    title = Text("Dry run" if dry_run else "Written", style="bold reverse")
    title.append(f"  {out}" if not dry_run else "  (nothing written; ctrl+w writes the file)", style="")
    parts.append(title)
    lines = Text()
    first = ("examples", "tokens", "tokens_per_example", "cost_per_epoch", "format", "mode", "skipped")
    keys = [k for k in first if k in data] + [k for k in data if k not in first]
    for key in keys:
        value = data[key]
        if value in (None, {}, [], "") or key in ("dry_run", "kind", "tokens_are_estimate", "token_counter"):
            continue
        if key == "tokens":
            counter = data.get("token_counter") or ("estimate" if data.get("tokens_are_estimate") else "tokenizer")
            value = f"{value:,}  ({counter})"
        elif key == "cost_per_epoch":
            value = f"${value:.4f} per epoch"
        elif key == "tokens_per_example":
            value = f"{value:,.0f}"
        elif isinstance(value, dict) and all(isinstance(v, int) for v in value.values()):
            value = _counts(value)
        elif isinstance(value, (dict, list)) and len(json.dumps(value, default=str)) > 160:
            value = json.dumps(value, default=str)[:157] + "…"
        lines.append(f"{key.replace('_', ' '):>22}  ", style="dim")
        lines.append(f"{value}\n", style="bold" if key in ("examples", "tokens", "cost_per_epoch") else "")
    if data.get("cost_per_epoch") is None:
        lines.append(f"{'cost per epoch':>22}  ", style="dim")
        lines.append("— (set price per mtok to see it)\n", style="yellow")
    parts.append(lines)
    if not dry_run and check is None:  # a written file is always checked: never show it as passed
        parts.append(Text("\nNOT CHECKED: run repo-agent check on the file", style="bold red"))
    if check is not None:
        ok = check.ok
        summary = f"{check.lines} lines as {check.format or '?'}, {check.error_count} errors"
        if not ok:
            summary += ": " + "; ".join(f"line {e.line}: {e.rule} {e.detail}" for e in check.errors[:3])
        parts.append(
            Text(("\ncheck passed: " if ok else "\nCHECK FAILED: ") + summary, style="bold green" if ok else "bold red")
        )
    if upload:
        parts.append(Text("\nnext:", style="bold"))
        parts.append(Text(f"  {upload}", style="cyan"))
    if preview is not None:
        parts.append(Text("\none record:", style="bold"))
        text = preview if isinstance(preview, str) else json.dumps(preview, ensure_ascii=False)
        text = _preview_text(text)
        parts.append(Syntax(text[:20000], "json", theme="monokai", background_color="default", word_wrap=True))
    return Group(*parts)

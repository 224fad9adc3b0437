"""A labeler's keymap: a TOML file that rebinds any studio action.

    [everywhere]            # the app's own keys (screens, help, back, quit)
    help = "h"
    [pairs]                 # a screen, by its mode name (tui/screens/registry.py)
    confirm = "y"
    flip = "x,F"            # several keys: comma-separated

An action's name is its description in `?` lowercased, spaces as ``_`` ("Open A" ->
``open_a``, "Split/unified" -> ``split_unified``). Each binding gets the id ``<section>.<name>``, which Textual's keymap
(`App.set_keymap`) looks up (tui/bindings.py), so the footer, `?` and the keys themselves agree. A file
that does not parse, names an unknown section or action, or binds one key to two
actions of a screen is one `KeymapError` naming the file and what is wrong.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.binding import Binding
from textual.dom import DOMNode

from agent.trace_io import open_regular
from agent.untrusted import neutralise_line
from tui.app import StudioApp
from tui.bindings import GLOBAL, action_name, active_keys, scopes

MAX_KEYMAP_BYTES = 256 * 1024  # a keymap is a few lines; a bigger file is not one


def _printable_key(key: str) -> bool:
    """A key name a footer can show: printable, short (an escape code is not a key)."""
    return 0 < len(key) <= 40 and key.isprintable()


class KeymapError(Exception):
    """The keymap file cannot be used (the message says which file and why)."""


def _bindings(cls: type[DOMNode]) -> list[Binding]:
    merged = cls._merged_bindings
    return [b for bs in merged.key_to_bindings.values() for b in bs] if merged else []


def load_keymap(path: Path) -> dict[str, str]:
    """The file as Textual's keymap (binding id -> keys), checked against the studio's actions."""
    shown = neutralise_line(path, markup=False)
    try:
        with open_regular(path, follow=True) as f:  # a FIFO or device named as the keymap is never read
            raw = f.read(MAX_KEYMAP_BYTES + 1)
        if len(raw) > MAX_KEYMAP_BYTES:
            raise KeymapError(f"keymap {shown}: larger than {MAX_KEYMAP_BYTES >> 10} KB; not a keymap")
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise KeymapError(
            f"keymap {shown}: cannot read it ({neutralise_line(exc.strerror or exc, markup=False)})"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KeymapError(f"keymap {shown}: not valid TOML ({neutralise_line(exc, markup=False)})") from None
    except RecursionError:
        raise KeymapError(f"keymap {shown}: nested too deep to be a keymap") from None
    path = Path(shown)
    known = scopes(StudioApp)
    names = {s: {action_name(b): b for b in _bindings(cls)} for s, cls in known.items()}
    keymap: dict[str, str] = {}
    for section, table in data.items():
        if section not in known:
            raise KeymapError(
                f"keymap {path}: unknown section [{neutralise_line(section, markup=False)}] (use {', '.join(known)})"
            )
        if not isinstance(table, dict):
            raise KeymapError(f'keymap {path}: {section} must be a [{section}] table of action = "keys"')
        for name, keys in table.items():
            if name not in names[section]:
                raise KeymapError(
                    f"keymap {path}: [{section}] has no action {neutralise_line(name, markup=False)!r} (its actions: {', '.join(sorted(names[section]))})"
                )
            if not isinstance(keys, str) or not [k for k in keys.split(",") if k.strip()]:
                raise KeymapError(f'keymap {path}: [{section}] {name} must be a key string like "y" or "ctrl+y,Y"')
            if any(not _printable_key(k.strip()) for k in keys.split(",")):
                raise KeymapError(
                    f"keymap {path}: [{section}] {name} = '{neutralise_line(keys, markup=False)}': "
                    "a key is a printable name like y, ctrl+y or f5 (no control characters)"
                )
            if any(" " in k.strip() for k in keys.split(",")):
                raise KeymapError(f"keymap {path}: [{section}] {name} = {keys!r}: separate keys with commas")
            keymap[f"{section}.{name}"] = ",".join(k.strip() for k in keys.split(","))
    _check_clashes(path, keymap, names)
    return keymap


def _check_clashes(path: Path, keymap: dict[str, str], names: dict[str, dict[str, Binding]]) -> None:
    """One key, two actions in one screen (its own or the app's), one of them rebound here:
    the keymap is ambiguous (clashes among the built-in keys are the screens' own design)."""
    for section in names:
        if section == GLOBAL:
            continue
        seen: dict[str, str] = {}
        for sec in (GLOBAL, section):
            for name, b in names[sec].items():
                for k in active_keys(sec, b, keymap):
                    other = seen.get(k)
                    here = f"{sec}.{name}"
                    if other is not None and other != here and (other in keymap or here in keymap):
                        raise KeymapError(f"keymap {path}: key {k!r} is bound to both {other} and {sec}.{name}")
                    seen[k] = here

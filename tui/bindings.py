"""Binding ids: every app and screen binding is named ``<section>.<action name>``, the name a
keymap file (tui/keymap.py) rebinds and `?` shows. The app assigns them before it starts, so
this module must not need the app: the app hands in its own class."""

from __future__ import annotations

import dataclasses
import re

from textual.binding import Binding
from textual.dom import DOMNode

from tui.screens.registry import SCREENS

GLOBAL = "everywhere"


def action_name(b: Binding) -> str:
    text = b.description or b.action.split("(")[0]
    return "_".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def binding_id(section: str, b: Binding) -> str:
    return b.id or f"{section}.{action_name(b)}"


def scopes(app_class: type[DOMNode]) -> dict[str, type[DOMNode]]:
    """Section name -> the class whose bindings it rebinds."""
    out: dict[str, type[DOMNode]] = {GLOBAL: app_class}
    out.update({s.mode: s.load() for s in SCREENS})
    return out


def assign_ids(app_class: type[DOMNode]) -> None:
    """Give every app and screen binding the id ``<section>.<action name>`` (idempotent:
    ids only depend on the classes, so every app in a process sees the same ones)."""
    for section, cls in scopes(app_class).items():
        merged = cls._merged_bindings
        if merged is None:
            continue
        for key, bs in merged.key_to_bindings.items():
            merged.key_to_bindings[key] = [
                b if b.id else dataclasses.replace(b, id=f"{section}.{action_name(b)}") for b in bs
            ]


def active_keys(section: str, b: Binding, keymap: dict[str, str]) -> list[str]:
    """The keys that fire ``b`` under ``keymap``, in Textual's long form ("?" -> question_mark)."""
    from textual.keys import _normalize_key_list

    keys = keymap.get(binding_id(section, b), b.key)
    return [k for k in _normalize_key_list(keys).split(",") if k]

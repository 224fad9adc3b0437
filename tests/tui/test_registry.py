"""One screen registry: the app, the tab bar keys, the palette and `--screen` all read it."""

from __future__ import annotations

import pytest

from tui.app import StudioApp
from tui.cli import build_parser
from tui.screens.registry import MODES, SCREENS


def test_every_screen_class_knows_its_own_entry():
    for spec in SCREENS:
        cls = spec.load()
        assert spec.mode == cls.MODE and spec.title == cls.TITLE_TEXT


def test_app_modes_and_keys_come_from_the_registry():
    assert list(StudioApp.MODES) == list(MODES)
    keys = {b.key: b.action for b in StudioApp.BINDINGS}
    for spec in SCREENS:
        assert keys[spec.key] == f"goto('{spec.mode}')"


def test_studio_screen_flag_takes_exactly_the_registered_modes():
    parser = build_parser()
    assert all(parser.parse_args(["studio", "--screen", m]).screen == m for m in MODES)
    with pytest.raises(SystemExit):
        parser.parse_args(["studio", "--screen", "nope"])

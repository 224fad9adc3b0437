"""A labeler's keymap (tui/keymap.py): rebinds actions, `?` shows the active keys, a bad
file is one clear error (library and command line)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from tests.tui.conftest import settle
from tui.cli import main
from tui.keymap import KeymapError, load_keymap
from tui.screens.help import HelpScreen

GOOD = """
[pairs]
confirm = "y"
flip = "x,F"
[everywhere]
help = "h"
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "keys.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_load_keymap_gives_binding_ids(tmp_path):
    assert load_keymap(_write(tmp_path, GOOD)) == {"pairs.confirm": "y", "pairs.flip": "x,F", "everywhere.help": "h"}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[pairs\nconfirm = 'y'", "not valid TOML"),
        ("[nope]\nconfirm = 'y'", "unknown section [nope]"),
        ("[pairs]\nconfirmm = 'y'", "[pairs] has no action 'confirmm'"),
        ("[pairs]\nconfirm = 3", "must be a key string"),
        ("[pairs]\nconfirm = ''", "must be a key string"),
        ("[pairs]\nconfirm = 'f'", "key 'f' is bound to both"),  # flip keeps f
        ("[everywhere]\nhelp = 'c'", "key 'c' is bound to both"),  # c confirms on Pairs
        ("pairs = 'y'", "must be a [pairs] table"),
    ],
)
def test_a_bad_keymap_is_one_clear_error(tmp_path, text, says):
    path = _write(tmp_path, text)
    with pytest.raises(KeymapError) as exc:
        load_keymap(path)
    assert says in str(exc.value) and str(path) in str(exc.value)


def test_bad_keymap_on_the_command_line_is_one_line_exit_2(traces, tmp_path, capsys):
    path = _write(tmp_path, "[pairs]\nconfirmm = 'y'")
    assert main(["studio", str(traces), "--keymap", str(path)]) == 2
    err = capsys.readouterr().err
    assert "has no action 'confirmm'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


async def test_rebound_keys_act_and_help_shows_them(sample_copy, make_app, tmp_path):
    app = make_app(sample_copy, keymap=load_keymap(_write(tmp_path, GOOD)))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        q = list(app.screen.queue)
        assert len(q) >= 2
        await pilot.press("c")  # no longer confirms
        await settle(pilot)
        assert app.store.pair(q[0]).verdict is None
        await pilot.press("y")
        assert app.store.pair(q[0]).verdict == "confirm"
        await pilot.press("F")
        assert app.store.pair(q[1]).verdict == "flip"
        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=120, record=True, file=io.StringIO())
        for static in app.screen.query("Static"):
            console.print(static.content)
        text = console.export_text()
        rows = {" ".join(ln.split()[1:]): ln.split()[0] for ln in text.splitlines() if ln.strip()}
        assert rows["Confirm"] == "y" and rows["Help"] == "h" and rows["Discard"] == "d"
        assert "x, F" in text

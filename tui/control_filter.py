"""The studio's last line of defence against escape codes in shown text (docs/hostile-files.md).

Text from traces, files and models is neutralised where a screen takes it
(`agent.untrusted.neutralise`: controls shown as ``\\x1b``). This filter runs on every line
Textual draws and deletes any control character still in a text segment, so a value some
screen forgot can never set the terminal's title, write its clipboard or clear it. Deleting
keeps the layout exact: a control character takes no cell.
"""

from __future__ import annotations

import re

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # (a lone surrogate would go out as a raw byte)


class ControlCharFilter(LineFilter):
    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        out = segments
        for i, seg in enumerate(segments):
            if seg.control is None and _CONTROL.search(seg.text):
                if out is segments:
                    out = list(segments)
                out[i] = Segment(_CONTROL.sub("", seg.text), seg.style)
        return out

"""Text from a file, a model or another agent, made harmless to show (docs/hostile-files.md).

Every screen and printed line that shows such text passes it through `neutralise` first.
A terminal obeys the escape sequences it receives (set the window title, write the
clipboard with OSC 52, clear the screen, leave the alternate screen), so C0 and C1 control
characters are shown as their visible escapes (``\\x1b]0;title``) instead of being sent;
newlines and tabs stay (they lay out multi-line text and do no harm). Bidirectional
overrides, which make shown text differ from what it is, are escaped too. With
``markup=True`` (the default: the CLI's Rich consoles and Textual's string cells read
markup) a ``[`` that would open a Rich tag is escaped, so ``[/]`` in a path is shown,
not parsed.
"""

from __future__ import annotations

import re

# C0 except tab and newline, DEL, C1, the bidi embeddings, overrides and isolates, and lone
# surrogates (a file name's undecodable byte, kept by surrogateescape: printed, it would
# reach the terminal as that raw byte, and 0x9b is CSI to an 8-bit terminal).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# The same test as rich.markup.escape (without importing Rich into agent/): a backslash run
# before something that reads as a tag. Begun only where a run begins (``(?<!\\)``): a search
# begun inside each run of backslashes went to its end, quadratic in the run (8,000: 1.5 s,
# round 22 sweep); one begun inside a run fails where the whole run failed.
_MARKUP = re.compile(r"(?<!\\)(\\*)(\[[a-z#/@][^[]*?])")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's stand-in for the byte code - 0xDC00
        code -= 0xDC00
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralise(text: object, *, markup: bool = True) -> str:
    """``text`` as a string that is safe to show: controls as visible escapes, Rich markup escaped.

    ``markup=False`` for a Rich ``Text`` or any sink that does not parse markup (an escape
    there would be shown as a backslash).
    """
    s = text if isinstance(text, str) else str(text)
    if _CONTROL.search(s):
        s = _CONTROL.sub(_visible, s)
    if markup and "[" in s:

        def escape_backslashes(m: re.Match[str]) -> str:
            backslashes, tag = m.groups()
            return f"{backslashes}{backslashes}\\{tag}"

        s = _MARKUP.sub(escape_backslashes, s)
        if s.endswith("\\") and not s.endswith("\\\\"):
            s += "\\"
    return s


def neutralise_line(text: object, *, markup: bool = True) -> str:
    """`neutralise` for a one-line place (an id, a name, an error): newlines shown as ``\\n`` too."""
    s = text if isinstance(text, str) else str(text)
    return neutralise(s.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t"), markup=markup)


__all__ = ["neutralise", "neutralise_line"]

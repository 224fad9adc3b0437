"""Token counts and cost per epoch for a training file.

A real count needs the model's tokenizer: pass a local ``tokenizer.json`` (the
Hugging Face ``tokenizers`` format; ``--tokenizer`` or env ``REPO_AGENT_TOKENIZER``).
Without one the count is an *estimate*: one token per 4 characters of the text that is
trained on (role names, contents, tool-call names and arguments, tool schemas), rounded
up per message. Code and JSON tokenize denser than prose, so real counts usually come out
0.8-1.3x the estimate. Chat-template tokens are not counted either way.

Cost per epoch is ``tokens / 1e6 * price`` with a price the user sets; there is no
default price (prices change and differ per model and per method).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

ENV_TOKENIZER = "REPO_AGENT_TOKENIZER"
CHARS_PER_TOKEN = 4


class TokenizerError(ValueError):
    pass


class TokenCounter:
    """Counts tokens of messages; ``is_estimate`` says whether a real tokenizer is used."""

    def __init__(self, tokenizer_path: str | Path | None = None):
        path = tokenizer_path or os.environ.get(ENV_TOKENIZER) or None
        self.tokenizer_path = str(path) if path else None
        self._tok = None
        if path:
            p = Path(path).expanduser()
            if not p.is_file():
                raise TokenizerError(f"tokenizer file not found: {p}")
            try:
                from tokenizers import Tokenizer

                self._tok = Tokenizer.from_file(str(p))
            except Exception as exc:  # a file that is not a tokenizer.json
                raise TokenizerError(f"cannot load tokenizer {p}: {exc}") from None
        self._tools_cache: dict[int, tuple[list, int]] = {}  # id -> (the list, kept alive; count)

    @property
    def is_estimate(self) -> bool:
        return self._tok is None

    @property
    def label(self) -> str:
        return (
            f"tokenizer {Path(self.tokenizer_path or '').name}" if self._tok else f"estimate (chars/{CHARS_PER_TOKEN})"
        )

    def text(self, s: str) -> int:
        if not s:
            return 0
        if self._tok is None:
            return math.ceil(len(s) / CHARS_PER_TOKEN)
        return len(self._tok.encode(s, add_special_tokens=False).ids)

    def texts(self, items: list[str]) -> int:
        items = [s for s in items if s]
        if not items:
            return 0
        if self._tok is None:
            return sum(math.ceil(len(s) / CHARS_PER_TOKEN) for s in items)
        return sum(len(e.ids) for e in self._tok.encode_batch(items, add_special_tokens=False))

    def messages(self, messages: list[dict[str, Any]]) -> int:
        return self.texts([_message_text(m) for m in messages])

    def tools(self, tools: list[dict[str, Any]] | None) -> int:
        """Tool schemas count once per example (they are part of every prompt)."""
        if not tools:
            return 0
        hit = self._tools_cache.get(id(tools))
        if hit is None or hit[0] is not tools:
            hit = (tools, self.text(json.dumps(tools, separators=(",", ":"))))
            self._tools_cache[id(tools)] = hit
        return hit[1]


def _message_text(m: dict[str, Any]) -> str:
    parts = [str(m.get("role", ""))]
    content = m.get("content")
    if isinstance(content, str):
        parts.append(content)
    for tc in m.get("tool_calls") or []:
        fn = tc.get("function") or {}
        args = fn.get("arguments")
        parts.append(str(fn.get("name", "")))
        parts.append(args if isinstance(args, str) else json.dumps(args, separators=(",", ":")))
    return "\n".join(parts)


def cost_per_epoch(tokens: int, price_per_mtok: float | None) -> float | None:
    """USD for one pass over ``tokens`` at ``price_per_mtok`` USD per million; None if no price."""
    if price_per_mtok is None:
        return None
    return tokens / 1_000_000 * price_per_mtok

"""Commands registered by this module: filled in by its package's issue."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    pass

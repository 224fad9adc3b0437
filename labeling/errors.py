"""Typed errors of the label store (re-exported by `labeling.store`)."""

from __future__ import annotations


class StoreError(Exception):
    """A mistake a caller can make: unknown pair id, ambiguous prefix, bad verdict..."""


class SchemaMismatch(StoreError):
    """The store file was written by another version of repo-agent and cannot be migrated."""


class NotFound(StoreError, KeyError):
    def __str__(self) -> str:  # KeyError's str() adds quotes
        return str(self.args[0]) if self.args else "not found"

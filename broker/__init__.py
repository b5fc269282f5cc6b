"""Liaison: signed, end-to-end encrypted case enquiries between police liaison offices."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("liaison")
except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
    __version__ = "0+unknown"

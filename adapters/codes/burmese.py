"""Burmese in the Zawgyi font encoding: detect (myanmartools), convert (python-myanmar)."""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any

import myanmartools  # type: ignore[import-untyped]
from myanmar import converter  # type: ignore[import-untyped]


@cache
def _detector() -> Any:  # myanmartools ships no types
    # myanmartools 1.2 loads its model with importlib.resources.open_binary, deprecated since
    # Python 3.11; the warning is the library's, not ours, so it is silenced here only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return myanmartools.ZawgyiDetector()


def zawgyi_probability(text: str) -> float:
    """How likely ``text`` is Zawgyi-encoded Burmese (0..1); 0 for text with no Burmese letters."""
    if not any("\u1000" <= ch <= "\u109f" for ch in text):
        return 0.0
    return float(_detector().get_zawgyi_probability(text))


def zawgyi_to_unicode(text: str) -> str:
    """``text`` converted from Zawgyi to standard Unicode Burmese."""
    return str(converter.convert(text, "zawgyi", "unicode"))

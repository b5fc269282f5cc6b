"""BCP 47 language tags (langcodes)."""

from __future__ import annotations

import re

import langcodes

from broker.errors import InputError

_SHAPE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")  # langcodes also accepts "zh_CN"
_MAX_TAG = 64  # far longer than any real tag; keeps the parser's work bounded


def is_language_tag(tag: str) -> bool:
    """True for a well-formed, valid BCP 47 tag (``vi``, ``zh-Latn-pinyin``, ``my-MM``)."""
    if len(tag) > _MAX_TAG or not _SHAPE.fullmatch(tag):
        return False
    try:
        return bool(langcodes.tag_is_valid(tag))
    except (ValueError, LookupError):
        return False


def normalise_language_tag(tag: str) -> str:
    """The tag in its standard form (``ZH-latn`` -> ``zh-Latn``); InputError if not valid."""
    if not is_language_tag(tag):
        raise InputError("not a valid BCP 47 language tag")
    return str(langcodes.standardize_tag(tag))

"""Phone numbers in E.164 (phonenumbers)."""

from __future__ import annotations

import phonenumbers

from broker.errors import InputError

_MAX_PHONE = 64  # characters of written form accepted before parsing


def to_e164(text: str, default_region: str | None = None) -> str:
    """``+8613800000000`` for a written number; ``default_region`` (alpha-2) for numbers
    written without a country code. InputError if it is not a possible number."""
    if not text or len(text) > _MAX_PHONE:
        raise InputError("not a phone number")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InputError("not a phone number") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InputError("not a possible phone number")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def is_e164(text: str) -> bool:
    """True if ``text`` is already a possible number in E.164 form (``+`` and digits only)."""
    if not (text.startswith("+") and text[1:].isdigit() and text[1:].isascii()):
        return False
    try:
        return to_e164(text) == text
    except InputError:
        return False

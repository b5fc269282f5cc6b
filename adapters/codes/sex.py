"""Sex: ISO/IEC 5218 (``broker.model.Sex``) and the ICAO 9303 letters F, M, X."""

from __future__ import annotations

from broker.errors import InputError
from broker.model import Sex

_TO_ICAO = {Sex.FEMALE: "F", Sex.MALE: "M", Sex.NOT_KNOWN: "X", Sex.NOT_APPLICABLE: "X"}
# ICAO has one letter for "unspecified"; it reads back as "not known". "<" is the MRZ filler.
_FROM_ICAO = {"F": Sex.FEMALE, "M": Sex.MALE, "X": Sex.NOT_KNOWN, "<": Sex.NOT_KNOWN}


def to_icao_sex(sex: Sex) -> str:
    """``F``, ``M`` or ``X`` (X for "not known" and "not applicable" alike: ICAO has one)."""
    return _TO_ICAO[sex]


def from_icao_sex(letter: str) -> Sex:
    """The ISO/IEC 5218 value for ``F``, ``M``, ``X`` or ``<``; InputError otherwise."""
    try:
        return _FROM_ICAO[letter.strip().upper() or "<"]
    except KeyError:
        raise InputError("not an ICAO sex code (F, M or X)") from None

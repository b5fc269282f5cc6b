"""ISO 3166-1 and 3166-2 codes (pycountry), with the ICAO 9303 nationality codes it lacks."""

from __future__ import annotations

from types import MappingProxyType

import pycountry

from broker.errors import InputError

# ICAO Doc 9303 Part 3 codes that are not ISO 3166-1 countries, as they appear in a document's
# nationality or issuing-state field. "D" is Germany in the MRZ and normalises to DEU.
ICAO_NATIONALITY_CODES: MappingProxyType[str, str] = MappingProxyType(
    {
        "XXA": "stateless person (1954 Convention)",
        "XXB": "refugee (1951 Convention)",
        "XXC": "refugee, other than the 1951 Convention",
        "XXX": "person of unspecified nationality",
        "D": "Germany (MRZ form of DEU)",
        "GBD": "British Overseas Territories citizen",
        "GBN": "British National (Overseas)",
        "GBO": "British Overseas citizen",
        "GBP": "British protected person",
        "GBS": "British subject",
        "UNO": "United Nations Organization official",
        "UNA": "United Nations specialized agency official",
        "UNK": "resident of Kosovo (UNMIK)",
        "EUE": "European Union",
        "XOM": "Sovereign Military Order of Malta",
        "XPO": "INTERPOL",
    }
)

# ICAO codes that stand for an ISO country under another spelling.
_ICAO_TO_ISO = MappingProxyType({"D": "DEU"})


def is_alpha3(code: str) -> bool:
    """True for an ISO 3166-1 alpha-3 country code (upper case, e.g. ``VNM``)."""
    return len(code) == 3 and code.isascii() and code.isupper() and _country(alpha_3=code)


def is_alpha2(code: str) -> bool:
    """True for an ISO 3166-1 alpha-2 country code (upper case, e.g. ``VN``)."""
    return len(code) == 2 and code.isascii() and code.isupper() and _country(alpha_2=code)


def is_subdivision_code(code: str) -> bool:
    """True for an ISO 3166-2 subdivision code (e.g. ``CN-YN`` Yunnan)."""
    if not code.isascii() or len(code) > 10 or "-" not in code:
        return False
    return _subdivision(code)


def is_nationality_code(code: str) -> bool:
    """True for an ISO alpha-3 code or an ICAO 9303 nationality code (``XXA``, ``D``...)."""
    return code in ICAO_NATIONALITY_CODES or is_alpha3(code)


def normalise_nationality(code: str) -> str:
    """The nationality code to store: upper-cased, ``D`` -> ``DEU``; InputError if unknown."""
    upper = code.strip().upper()
    if not is_nationality_code(upper):
        raise InputError("not an ISO 3166-1 alpha-3 or ICAO 9303 nationality code")
    return _ICAO_TO_ISO.get(upper, upper)


def alpha3_to_alpha2(code: str) -> str:
    """The alpha-2 code for an ISO alpha-3 (or ``D``); InputError for ICAO-only codes."""
    alpha3 = _ICAO_TO_ISO.get(code, code)
    if not is_alpha3(alpha3):
        raise InputError("not an ISO 3166-1 alpha-3 country code")
    country = pycountry.countries.get(alpha_3=alpha3)
    if country is None:  # pragma: no cover - is_alpha3 just found it
        raise InputError("not an ISO 3166-1 alpha-3 country code")
    return str(country.alpha_2)


def alpha2_to_alpha3(code: str) -> str:
    """The alpha-3 code for an ISO alpha-2 code; InputError if unknown."""
    if not is_alpha2(code):
        raise InputError("not an ISO 3166-1 alpha-2 country code")
    country = pycountry.countries.get(alpha_2=code)
    if country is None:  # pragma: no cover - is_alpha2 just found it
        raise InputError("not an ISO 3166-1 alpha-2 country code")
    return str(country.alpha_3)


def _country(*, alpha_2: str | None = None, alpha_3: str | None = None) -> bool:
    try:
        if alpha_2 is not None:
            return pycountry.countries.get(alpha_2=alpha_2) is not None
        return pycountry.countries.get(alpha_3=alpha_3) is not None
    except (KeyError, LookupError):  # pycountry raises on malformed keys in some versions
        return False


def _subdivision(code: str) -> bool:
    try:
        found: object = pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]
    except (KeyError, LookupError):
        return False
    return found is not None

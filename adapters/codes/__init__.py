"""Code lists and name helpers shared by the partner-format adapters.

Pure functions over strings: ISO 3166 countries with the ICAO 9303 overlay, ISO/IEC 5218 and ICAO
sex codes, BCP 47 language tags, E.164 phone numbers, Chinese names in Hanyu Pinyin, ASCII search
keys and Burmese Zawgyi detection. Lookups answer ``bool``; conversions raise
:class:`broker.errors.InputError` (never ``ValueError``) and never quote the value they refuse,
so an adapter can re-raise them as an ``AdapterInputError`` naming the place.
"""

from __future__ import annotations

from adapters.codes.burmese import zawgyi_probability, zawgyi_to_unicode
from adapters.codes.countries import (
    ICAO_NATIONALITY_CODES,
    alpha2_to_alpha3,
    alpha3_to_alpha2,
    is_alpha2,
    is_alpha3,
    is_nationality_code,
    is_subdivision_code,
    normalise_nationality,
)
from adapters.codes.languages import is_language_tag, normalise_language_tag
from adapters.codes.names import (
    SURNAME_READINGS,
    is_nfc,
    pinyin_for,
    search_key,
    to_nfc,
)
from adapters.codes.phones import is_e164, to_e164
from adapters.codes.sex import from_icao_sex, to_icao_sex

__all__ = [
    "ICAO_NATIONALITY_CODES",
    "SURNAME_READINGS",
    "alpha2_to_alpha3",
    "alpha3_to_alpha2",
    "from_icao_sex",
    "is_alpha2",
    "is_alpha3",
    "is_e164",
    "is_language_tag",
    "is_nationality_code",
    "is_nfc",
    "is_subdivision_code",
    "normalise_language_tag",
    "normalise_nationality",
    "pinyin_for",
    "search_key",
    "to_e164",
    "to_icao_sex",
    "to_nfc",
    "zawgyi_probability",
    "zawgyi_to_unicode",
]

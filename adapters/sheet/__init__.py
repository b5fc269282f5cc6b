"""The ``sheet`` partner format: the bilingual spreadsheet of the Mekong border liaison offices.

XLSX (text-only cells) or CSV (UTF-8 with BOM); row 1 holds stable English keys, row 2 labels in
the partner's language, then one row per record (MESSAGE, PERSON, NAME, ...). See README.md.
"""

from __future__ import annotations

from adapters.sheet.codec import CODEC, FORMS, SheetCodec, parse_variant
from adapters.sheet.labels import LANGUAGES
from adapters.sheet.xlsx import ZipLimits

__all__ = ["CODEC", "FORMS", "LANGUAGES", "SheetCodec", "ZipLimits", "parse_variant"]

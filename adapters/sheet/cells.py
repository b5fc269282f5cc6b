"""What happens to every cell's text on its way out and in: formula neutralising, the OOXML
``_xHHHH_`` escape, Zawgyi conversion and NFC.

Formula injection (OWASP, CWE-1236): a text cell that starts with ``= + - @``, TAB, CR or NUL is
written with one leading apostrophe, and so is a text that itself starts with an apostrophe;
reading removes exactly one leading apostrophe. So ``'=1+1`` in a sheet is the text ``=1+1``,
``''x`` is ``'x``, and every text round-trips unchanged. Phone columns are exempt: they hold
E.164 numbers only (``+8613800000000``), which are checked strictly instead.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from adapters.codes import zawgyi_probability, zawgyi_to_unicode

FORMULA_STARTS = frozenset("=+-@\t\r\x00")
APOSTROPHE = "'"
# myanmartools gives ~1.0 for Zawgyi and ~0 for Unicode Burmese; the brief's threshold.
ZAWGYI_THRESHOLD = 0.95


def neutralise(text: str) -> str:
    """``text`` as written to a (non-phone) cell: inert in a spreadsheet program."""
    if text and (text[0] in FORMULA_STARTS or text[0] == APOSTROPHE):
        return APOSTROPHE + text
    return text


# ---------------------------------------------------------------- OOXML string escape

# XML 1.0 cannot hold these characters, and parsers turn a raw CR into LF; OOXML writes them as
# _xHHHH_ (ECMA-376 Part 1, 22.9.2.19 ST_Xstring), and a literal "_xHHHH_" is protected by
# escaping its underscore as _x005F_. Excel writes and reads the same form.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ufffe\uffff]")
_LITERAL_ESCAPE = re.compile("_(?=x[0-9A-Fa-f]{4}_)")
_ESCAPED = re.compile("_x([0-9A-Fa-f]{4})_")


def ooxml_escape(text: str) -> str:
    """``text`` as an OOXML string: XML-safe and reversible with :func:`ooxml_unescape`."""
    text = _LITERAL_ESCAPE.sub("_x005F_", text)
    return _NOT_XML.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)


def ooxml_unescape(text: str) -> str:
    """The text an OOXML string stands for (openpyxl leaves cell text escaped)."""
    if "_x" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        code = int(match.group(1), 16)
        # A surrogate is not a character; keep the escape as written.
        return match.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)

    return _ESCAPED.sub(one, text)


# ---------------------------------------------------------------- reading a cell


@dataclass(frozen=True, slots=True)
class CellText:
    """A cell's text as the decoder uses it, and what a person should be told about it."""

    text: str
    warnings: tuple[str, ...] = ()


def read_cell(text: str, where: str, *, phone: bool) -> CellText:
    """Undo :func:`neutralise`, flag formula-like text, convert Zawgyi, normalise to NFC."""
    warnings: list[str] = []
    if phone:
        # Checked as E.164 by the decoder; an apostrophe someone typed to keep Excel from
        # eating the "+" is tolerated (Liaison never writes one there).
        text = text.removeprefix(APOSTROPHE)
    elif text.startswith(APOSTROPHE):
        text = text[1:]
    elif text and text[0] in FORMULA_STARTS:
        warnings.append(f"{where}: starts like a spreadsheet formula; read as plain text")
    if zawgyi_probability(text) > ZAWGYI_THRESHOLD:
        text = zawgyi_to_unicode(text)
        warnings.append(f"{where}: Burmese text in the Zawgyi encoding converted to Unicode")
    normal = unicodedata.normalize("NFC", text)
    if normal != text:
        warnings.append(f"{where}: text normalised to Unicode NFC")
    return CellText(normal, tuple(warnings))

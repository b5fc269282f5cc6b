"""CSV bytes: UTF-8 with a BOM out (Excel needs it to see UTF-8); UTF-8 or GB18030 in.

Written per RFC 4180: comma, double quotes where needed, CRLF between records. Read: LF, CRLF
and CR all end a record; a line break inside quotes is part of the cell.

Encoding rule on input: a UTF-8 BOM is dropped; a UTF-16 or UTF-32 BOM is refused (save the
sheet as "CSV UTF-8"); bytes that are valid UTF-8 are UTF-8; otherwise the bytes are read as
GB18030 only if every non-ASCII character they decode to is Chinese (CJK ideographs, CJK and
full-width punctuation) and a warning says so. GB18030 maps almost any byte string to
*something*, so this rule is what refuses a Latin-1 or Windows-1252 file: its accented letters
decode to Latin-1 supplement or scattered symbols, not only to Hanzi. A Latin-1 file whose every
accented letter happens to pair into a Hanzi cannot be told apart; the warning is there for that.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from adapters.base import AdapterInputError

MEDIA_TYPE = "text/csv"
_BOM_UTF8 = b"\xef\xbb\xbf"
_BOMS_REFUSED = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def write_csv(rows: Sequence[Sequence[str]]) -> bytes:
    """The rows (already neutralised) as RFC 4180 CSV in UTF-8 with a BOM."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(rows)
    return _BOM_UTF8 + out.getvalue().encode("utf-8")


def _is_chinese(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF  # CJK Unified Ideographs
        or 0x3400 <= code <= 0x4DBF  # Extension A
        or 0x20000 <= code <= 0x2FA1F  # Extensions B-F and compatibility supplement
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x3000 <= code <= 0x303F  # CJK symbols and punctuation
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or ch in "\u00b7\u2014\u2026\u2018\u2019\u201c\u201d"  # middle dot, dash, quotes
    )


def decode_text(data: bytes) -> tuple[str, tuple[str, ...]]:
    """The CSV file's text and any warning about its encoding."""
    if data.startswith(_BOMS_REFUSED):
        raise AdapterInputError("file", "is UTF-16 or UTF-32; save the sheet as CSV UTF-8")
    if data.startswith(_BOM_UTF8):
        data = data[len(_BOM_UTF8) :]
    try:
        return data.decode("utf-8"), ()
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise AdapterInputError("file", "is neither UTF-8 nor GB18030 text") from None
    if not all(ch.isascii() or _is_chinese(ch) for ch in text):
        raise AdapterInputError("file", "is neither UTF-8 nor GB18030 Chinese text")
    return text, ("file: not UTF-8; read as GB18030 (Chinese); check the names",)


def read_csv(
    data: bytes, *, max_rows: int, max_columns: int
) -> tuple[list[tuple[int, tuple[str, ...]]], tuple[str, ...]]:
    """The rows as (row number, cell texts), and encoding warnings."""
    text, warnings = decode_text(data)
    rows: list[tuple[int, tuple[str, ...]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for number, cells in enumerate(reader, start=1):
            if number > max_rows + 2:
                raise AdapterInputError(f"row {number}", f"more than {max_rows} data rows")
            if len(cells) > max_columns and any(cells[max_columns:]):
                raise AdapterInputError(f"row {number}", f"has more than {max_columns} columns")
            rows.append((number, tuple(cells[:max_columns])))
    except csv.Error:
        # csv.Error carries a line number only, never content; its record count is ours.
        raise AdapterInputError(
            f"row {len(rows) + 1}", "is not valid CSV (a quote or a too-long cell)"
        ) from None
    return rows, warnings

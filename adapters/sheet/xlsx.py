"""XLSX bytes: a deterministic writer of text-only sheets, and a guarded reader.

The writer emits the smallest SpreadsheetML package Excel and LibreOffice open (six parts, fixed
zip dates, no document properties), so the same rows always give the same bytes. Every cell is an
inline string (``t="inlineStr"``) in a column whose number format is ``@`` (text): nothing can
become a live formula, a date or a number, and what an officer types into it stays text too.

The reader checks the raw zip first (member count, names, declared sizes, compression ratio,
macro and external-link parts), then lets openpyxl read the first sheet in read-only mode. It
returns the cells as strings; a live formula cell is refused.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import openpyxl  # type: ignore[import-untyped]

from adapters.base import AdapterInputError
from adapters.sheet.cells import ooxml_escape, ooxml_unescape

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_NAME = "liaison"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
# Parts that carry code: VBA projects, Excel 4 macro sheets, ActiveX controls.
_MACRO_PARTS = ("vbaproject", "macrosheets/", "activex")


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """What an XLSX package may hold before openpyxl sees it."""

    max_members: int = 64  # our packages have 6 parts; Excel's a dozen or two
    max_uncompressed_bytes: int = 64 * 1024 * 1024  # all members together, as declared
    max_ratio: int = 100  # uncompressed / compressed, per member over 1 MiB (zip bombs)
    max_rows: int = 10_000  # data rows; 100 persons with every list full fit well
    max_columns: int = 64  # cells read per row; row 1 has at most len(KEYS) keys


# ---------------------------------------------------------------- writing


def column_letters(index: int) -> str:
    """Column letters for a 0-based index: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _sheet_xml(rows: Sequence[Sequence[str]], width: int) -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
        f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">',
        (
            '<sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="2" topLeftCell="A3" activePane="bottomLeft" state="frozen"/>'
            "</sheetView></sheetViews>"
        ),
        f'<cols><col min="1" max="{max(width, 1)}" width="24" style="0" customWidth="1"/></cols>',
        "<sheetData>",
    ]
    for number, row in enumerate(rows, start=1):
        style = "1" if number <= 2 else "0"  # rows 1 and 2 (keys and labels) in bold
        out.append(f'<row r="{number}">')
        for index, value in enumerate(row):
            if value:
                text = escape(ooxml_escape(value))
                out.append(
                    f'<c r="{column_letters(index)}{number}" s="{style}" t="inlineStr">'
                    f'<is><t xml:space="preserve">{text}</t></is></c>'
                )
        out.append("</row>")
    out.append("</sheetData></worksheet>")
    return "".join(out).encode("utf-8")


_STATIC_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.styles+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
        f'<sheet name="{SHEET_NAME}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'
    ),
    # Number format 49 is the built-in "@" (text); xf 1 is the same in bold, for rows 1-2.
    "xl/styles.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<styleSheet xmlns="{_MAIN}">'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        '<cellXfs count="2">'
        '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="49" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" '
        'applyFont="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}


def write_xlsx(rows: Sequence[Sequence[str]]) -> bytes:
    """An XLSX package holding ``rows`` (already neutralised) as text cells, deterministically."""
    width = max((len(row) for row in rows), default=1)
    parts = dict(_STATIC_PARTS)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name in ("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml"):
            _add(package, name, parts.pop(name).encode("utf-8"))
        for name, text in parts.items():
            _add(package, name, text.encode("utf-8"))
        _add(package, "xl/worksheets/sheet1.xml", _sheet_xml(rows, width))
    return buffer.getvalue()


def _add(package: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    package.writestr(info, data, compresslevel=6)


# ---------------------------------------------------------------- reading


def check_package(data: bytes, limits: ZipLimits) -> None:
    """Refuse a zip that is not a plain spreadsheet package, before anything decompresses it."""
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise AdapterInputError("file", "is not a readable XLSX (zip) package") from None
    with package:
        members = package.infolist()
        if len(members) > limits.max_members:
            raise AdapterInputError("file", f"has more than {limits.max_members} zip members")
        total = 0
        for index, member in enumerate(members, start=1):
            _check_member(member, index, limits)
            total += member.file_size
        if total > limits.max_uncompressed_bytes:
            raise AdapterInputError(
                "file", f"would unpack to more than {limits.max_uncompressed_bytes} bytes"
            )


def _check_member(member: zipfile.ZipInfo, index: int, limits: ZipLimits) -> None:
    name = member.filename
    where = f"zip member {index}"
    lowered = name.lower()
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
        raise AdapterInputError(where, "has an absolute or parent-directory path")
    if any(part in lowered for part in _MACRO_PARTS):
        raise AdapterInputError(where, "is a macro or ActiveX part; macros are not accepted")
    if "externallink" in lowered:
        raise AdapterInputError(where, "is an external link part; links are not accepted")
    if member.flag_bits & 0x1:
        raise AdapterInputError(where, "is encrypted")
    big = member.file_size > 1024 * 1024
    if big and member.file_size > limits.max_ratio * max(member.compress_size, 1):
        raise AdapterInputError(where, f"compresses more than {limits.max_ratio} to 1 (zip bomb)")


def read_xlsx(data: bytes, limits: ZipLimits) -> list[tuple[int, tuple[str, ...]]]:
    """The first sheet's rows as (row number, cell texts); empty cells are ""."""
    check_package(data, limits)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions a partner's program wrote; not errors.
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(
                io.BytesIO(data), read_only=True, data_only=False, keep_vba=False, keep_links=False
            )
            try:
                return _rows(book, limits)
            finally:
                book.close()
    except AdapterInputError:
        raise
    except Exception:  # noqa: BLE001 - openpyxl raises many types on a broken package
        raise AdapterInputError("file", "is not a readable XLSX workbook") from None


def _rows(book: Any, limits: ZipLimits) -> list[tuple[int, tuple[str, ...]]]:
    if not book.worksheets:
        raise AdapterInputError("file", "has no worksheet")
    sheet = book.worksheets[0]
    rows: list[tuple[int, tuple[str, ...]]] = []
    # Row 1 (keys) and row 2 (labels) come on top of the data rows.
    bound = limits.max_rows + 2
    for number, cells in enumerate(
        sheet.iter_rows(max_row=bound + 1, max_col=limits.max_columns + 1), start=1
    ):
        if number > bound:
            raise AdapterInputError(f"row {number}", f"more than {limits.max_rows} data rows")
        texts = tuple(_text(cell, number, index) for index, cell in enumerate(cells))
        if len(texts) > limits.max_columns and texts[limits.max_columns]:
            raise AdapterInputError(f"row {number}", f"has more than {limits.max_columns} columns")
        rows.append((number, texts[: limits.max_columns]))
    return rows


def _text(cell: object, row: int, index: int) -> str:
    value = getattr(cell, "value", None)
    where = f"row {row}, column {column_letters(index)}"
    if getattr(cell, "data_type", None) == "f":
        raise AdapterInputError(where, "is a live formula; the sheet must hold text only")
    if value is None:
        return ""
    if isinstance(value, str):
        return ooxml_unescape(value)
    if isinstance(value, int) and not isinstance(value, bool):
        # A number typed into a cell that was not text; its digits are what the officer typed.
        return str(value)
    raise AdapterInputError(where, "is a number, date or other non-text value; format it as text")

"""The ``sheet`` codec: a case message as a bilingual spreadsheet (XLSX or CSV), and back.

Variants: ``"xlsx"`` (the default) or ``"csv"``, optionally followed by ``":"`` and the label
language of row 2: ``"xlsx:lo"``, ``"csv:vi"``, ``"xlsx:zh-Hans"``, ``"csv:my"``, ``"xlsx:en"``.
Without one, row 2 is in the message's own language when there are labels for it, else English.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.base import AdapterInputError, Decoded, Encoded
from adapters.sheet import columns as col
from adapters.sheet import csv_text, xlsx
from adapters.sheet.cells import neutralise, read_cell
from adapters.sheet.from_rows import Row, to_message
from adapters.sheet.labels import LABELS, LANGUAGES
from adapters.sheet.to_rows import to_records
from broker.errors import ConfigError, NotAvailable
from broker.messages import Message
from broker.model import CaseEnquiry, CaseResponse

FORMS = ("xlsx", "csv")
# BCP 47 tags that pick a label language other than by their exact spelling.
_LABEL_ALIASES = {"zh": "zh-Hans", "zh-CN": "zh-Hans", "zh-Hans-CN": "zh-Hans"}


def parse_variant(variant: str | None, message_language: str) -> tuple[str, str]:
    """(form, label language) for a variant such as ``"xlsx:lo"``; ConfigError if unknown."""
    form, _, language = (variant or "xlsx").partition(":")
    if form not in FORMS:
        raise ConfigError(f"sheet variant form must be one of {', '.join(FORMS)}")
    if not language:
        language = _LABEL_ALIASES.get(message_language, message_language)
        return form, language if language in LANGUAGES else "en"
    language = _LABEL_ALIASES.get(language, language)
    if language not in LANGUAGES:
        raise ConfigError(f"sheet label language must be one of {', '.join(LANGUAGES)}")
    return form, language


def sheet_rows(records: list[dict[str, str]], language: str) -> list[tuple[str, ...]]:
    """Row 1 (keys), row 2 (labels) and the records, every cell neutralised."""
    labels = LABELS[language]
    head = [col.KEYS, tuple(neutralise(labels[key]) for key in col.KEYS)]
    return head + [
        tuple(
            record.get(key, "") if key in col.PHONE_KEYS else neutralise(record.get(key, ""))
            for key in col.KEYS
        )
        for record in records
    ]


@dataclass(frozen=True, slots=True)
class SheetCodec:
    """The Codec for bilingual sheets (adapters.base.Codec)."""

    name: str = "sheet"
    description: str = "bilingual spreadsheet (XLSX or CSV) for Mekong border liaison offices"
    suffixes: tuple[str, ...] = (".xlsx", ".csv")
    max_input_bytes: int = 16 * 1024 * 1024  # a sheet of 100 persons is well under 1 MiB
    limits: xlsx.ZipLimits = field(default_factory=xlsx.ZipLimits)

    def encode(self, message: Message, *, variant: str | None = None) -> Encoded:
        """The sheet for an enquiry or a response; receipts have no sheet form."""
        if not isinstance(message, CaseEnquiry | CaseResponse):
            raise NotAvailable("the sheet format carries enquiries and responses, not receipts")
        form, language = parse_variant(variant, message.language)
        records, losses = to_records(message)
        rows = sheet_rows(records, language)
        if form == "csv":
            return Encoded(csv_text.write_csv(rows), csv_text.MEDIA_TYPE, ".csv", losses)
        return Encoded(xlsx.write_xlsx(rows), xlsx.MEDIA_TYPE, ".xlsx", losses)

    def decode(self, data: bytes, *, suffix: str | None = None) -> Decoded:
        """The message in a sheet; the suffix (or the zip signature) says XLSX or CSV."""
        if len(data) > self.max_input_bytes:
            raise AdapterInputError("file", f"is larger than {self.max_input_bytes} bytes")
        is_xlsx = suffix == ".xlsx" if suffix else data.startswith(b"PK\x03\x04")
        warnings: tuple[str, ...] = ()
        if is_xlsx:
            raw = xlsx.read_xlsx(data, self.limits)
        else:
            raw, warnings = csv_text.read_csv(
                data, max_rows=self.limits.max_rows, max_columns=self.limits.max_columns
            )
        rows, cell_warnings = table_rows(raw)
        return Decoded(to_message(rows), (), warnings + cell_warnings)


def _header(raw: list[tuple[int, tuple[str, ...]]]) -> tuple[str, ...]:
    if not raw or raw[0][0] != 1:
        raise AdapterInputError("row 1", "is missing; it must hold the column keys")
    keys = list(raw[0][1])
    while keys and not keys[-1].strip():
        keys.pop()
    seen: set[str] = set()
    for index, key in enumerate(keys):
        where = f"row 1, column {xlsx.column_letters(index)}"
        if key.strip() not in col.KEYS:
            # Safe to name: a key we refuse is shown only if it looks like one of ours.
            shown = key.strip() if key.strip().isidentifier() and len(key) <= 40 else "this key"
            raise AdapterInputError(where, f"unknown column key {shown!r}")
        if key.strip() in seen:
            raise AdapterInputError(where, "repeats a column key")
        seen.add(key.strip())
    if "record" not in seen:
        raise AdapterInputError("row 1", "has no 'record' column")
    return tuple(key.strip() for key in keys)


def table_rows(raw: list[tuple[int, tuple[str, ...]]]) -> tuple[list[Row], tuple[str, ...]]:
    """The data rows (from row 3 on) as records, after cell checks; and warnings."""
    keys = _header(raw)
    warnings: list[str] = []
    rows: list[Row] = []
    for number, cells in raw[1:]:
        if number == 2:
            # Row 2 holds labels, in any language; only make sure it is not data.
            first = cells[keys.index("record")] if len(cells) > keys.index("record") else ""
            if first.strip().upper() in col.COLUMNS_OF:
                raise AdapterInputError("row 2", "must hold labels, not a record")
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(keys) and any(cell.strip() for cell in cells[len(keys) :]):
            raise AdapterInputError(f"row {number}", "has more cells than row 1 has keys")
        rows.append(_row(number, keys, cells, warnings))
    return rows, tuple(warnings)


def _row(number: int, keys: tuple[str, ...], cells: tuple[str, ...], warnings: list[str]) -> Row:
    by_key = dict(zip(keys, cells, strict=False))
    record = by_key.get("record", "").strip().upper()
    if record not in col.COLUMNS_OF:
        raise AdapterInputError(
            f"row {number}, column record", "is not one of " + ", ".join(col.COLUMNS_OF)
        )
    allowed = col.COLUMNS_OF[record]
    texts: dict[str, str] = {}
    for key, value in by_key.items():
        if key == "record" or not value:
            continue
        where = f"row {number}, column {key}"
        if key not in allowed:
            raise AdapterInputError(where, f"is not used by a {record} row")
        cell = read_cell(value, where, phone=key in col.PHONE_KEYS)
        warnings.extend(cell.warnings)
        texts[key] = cell.text
    return Row(number, record, texts)


CODEC = SheetCodec()

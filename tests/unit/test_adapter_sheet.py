"""The sheet codec: golden files, variants, losses, names, formula neutralising, encodings."""

from __future__ import annotations

import csv
import dataclasses
import io
import zipfile
from pathlib import Path

import pytest

from adapters.base import AdapterInputError, Codec, Decoded
from adapters.sheet import CODEC, parse_variant
from adapters.sheet.cells import neutralise, ooxml_escape, ooxml_unescape, read_cell
from adapters.sheet.columns import KEYS
from adapters.sheet.examples.regenerate import golden_files
from broker.errors import ConfigError, NotAvailable
from broker.model import CaseEnquiry, CaseResponse, Receipt, ResponseStatus

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "adapters/sheet/examples"


def alert() -> CaseEnquiry:
    text = (ROOT / "docs/examples/missing-child-alert.json").read_text(encoding="utf-8")
    return CaseEnquiry.from_json(text)


def without_losses(message: CaseEnquiry | CaseResponse) -> CaseEnquiry | CaseResponse:
    """What the sheet keeps of a message: no coordinates, no attachments."""
    places = tuple(dataclasses.replace(p, coordinates=None) for p in message.places)
    return dataclasses.replace(message, places=places, attachments=())


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def csv_bytes(rows: list[list[str]], *, bom: bool = True, newline: str = "\r\n") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=newline).writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def edited_csv(edits: dict[tuple[str, str], str]) -> bytes:
    """The alert as CSV with cells replaced: {(record, key): text} on the first such row."""
    rows = csv_rows(CODEC.encode(alert(), variant="csv").data)
    for (record, key), text in edits.items():
        row = next(r for r in rows[2:] if r[0] == record)
        row[KEYS.index(key)] = text
    return csv_bytes(rows)


def decode_csv(data: bytes) -> Decoded:
    return CODEC.decode(data, suffix=".csv")


# ---------------------------------------------------------------- golden files


@pytest.mark.parametrize("name", sorted(golden_files()))
def test_golden_files_are_what_the_codec_writes(name: str) -> None:
    assert (EXAMPLES / name).read_bytes() == golden_files()[name]


def test_the_missing_child_alert_is_a_lao_labelled_xlsx() -> None:
    data = (EXAMPLES / "missing-child-alert.lo.xlsx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        sheet = package.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "ປະເພດແຖວ" in sheet  # the Lao label of the record column
    assert "<f>" not in sheet
    assert 't="s"' not in sheet  # inline strings only
    assert CODEC.decode(data, suffix=".xlsx").message == without_losses(alert())


def test_the_golden_csv_has_a_bom_vietnamese_labels_and_decodes_to_the_alert() -> None:
    data = (EXAMPLES / "missing-child-alert.vi.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfrecord,person,")
    assert csv_rows(data)[1][0] == "Loại dòng"
    assert decode_csv(data).message == without_losses(alert())


def test_the_filled_in_lao_response_decodes_to_a_valid_case_response() -> None:
    decoded = CODEC.decode((EXAMPLES / "lao-response.lo.xlsx").read_bytes(), suffix=".xlsx")
    expected = (EXAMPLES / "lao-response.json").read_text(encoding="utf-8")
    assert decoded.message == CaseResponse.from_json(expected)
    assert isinstance(decoded.message, CaseResponse)
    assert decoded.message.enquiry_id == alert().enquiry_id
    assert decoded.message.status is ResponseStatus.PARTIALLY_ANSWERED
    assert decoded.warnings == ()


def test_the_writer_is_deterministic_with_fixed_zip_dates() -> None:
    first = CODEC.encode(alert(), variant="xlsx:lo").data
    assert first == CODEC.encode(alert(), variant="xlsx:lo").data
    with zipfile.ZipFile(io.BytesIO(first)) as package:
        assert {info.date_time for info in package.infolist()} == {(1980, 1, 1, 0, 0, 0)}


# ---------------------------------------------------------------- the codec


def test_codec_satisfies_the_protocol() -> None:
    assert isinstance(CODEC, Codec)
    assert CODEC.name == "sheet"
    assert CODEC.suffixes == (".xlsx", ".csv")


def test_losses_name_the_coordinates_and_the_attachment() -> None:
    encoded = CODEC.encode(alert())
    assert [loss.field for loss in encoded.losses] == [
        "places[0].coordinates",
        "places[1].coordinates",
        "attachments[0]",
    ]
    assert not any(loss.essential for loss in encoded.losses)
    assert encoded.suffix == ".xlsx"


@pytest.mark.parametrize(
    ("variant", "language", "expected"),
    [
        (None, "en", ("xlsx", "en")),
        ("csv", "vi", ("csv", "vi")),
        ("xlsx", "zh", ("xlsx", "zh-Hans")),
        ("xlsx", "th", ("xlsx", "en")),
        ("csv:lo", "en", ("csv", "lo")),
        ("xlsx:my", "zh", ("xlsx", "my")),
    ],
)
def test_variants_pick_form_and_label_language(
    variant: str | None, language: str, expected: tuple[str, str]
) -> None:
    assert parse_variant(variant, language) == expected


@pytest.mark.parametrize("variant", ["ods", "xlsx:fr", "csv:"])
def test_unknown_variants_are_a_configuration_error(variant: str) -> None:
    if variant == "csv:":
        assert parse_variant(variant, "en") == ("csv", "en")
        return
    with pytest.raises(ConfigError):
        CODEC.encode(alert(), variant=variant)


def test_a_receipt_has_no_sheet_form() -> None:
    receipt = Receipt.from_json(
        '{"message_id": "AAAAAAAAAAAAAAAAAAAAAA==", "envelope_digest": '
        '"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "status": "RECEIPT_STATUS_DELIVERED",'
        ' "receiving_office": "LA-MOPS-ATD", "received_at": "2025-03-10T00:00:00Z"}'
    )
    with pytest.raises(NotAvailable):
        CODEC.encode(receipt)


def test_the_suffix_can_be_left_out() -> None:
    for variant in ("xlsx", "csv"):
        data = CODEC.encode(alert(), variant=variant).data
        assert CODEC.decode(data).message == without_losses(alert())


# ---------------------------------------------------------------- names


def test_names_keep_order_script_and_the_native_spelling_beside_the_latin() -> None:
    rows = csv_rows(CODEC.encode(alert(), variant="csv").data)
    names = [r for r in rows if r[0] == "NAME" and r[1] == "3"]
    column = {key: KEYS.index(key) for key in ("name_script", "full_name", "transliteration_of")}
    assert [r[column["name_script"]] for r in names] == ["Laoo", "Latn"]
    assert [r[column["full_name"]] for r in names] == ["ສົມພອນ ແກ້ວມະນີ", "Somphone Keomany"]
    assert [r[column["transliteration_of"]] for r in names] == ["", "1"]


def test_a_transliteration_pointing_past_the_names_names_its_row() -> None:
    rows = csv_rows(CODEC.encode(alert(), variant="csv").data)
    index = next(i for i, r in enumerate(rows) if r[0] == "NAME" and r[1] == "1") + 1
    rows[index][KEYS.index("transliteration_of")] = "7"
    with pytest.raises(AdapterInputError) as caught:
        decode_csv(csv_bytes(rows))
    assert caught.value.where == f"row {index + 1}, column transliteration_of"


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize(
    "text", ["=HYPERLINK(1)", "+cmd", "-1+1", "@SUM(A1)", "\tx", "\rx", "'", "''=x", "plain", ""]
)
def test_neutralising_is_reversed_exactly(text: str) -> None:
    written = neutralise(text)
    assert not written or written[0] not in "=+-@\t\r"
    assert read_cell(written, "row 3, column x", phone=False).text == text


def test_formula_like_text_is_kept_and_flagged_with_its_row_and_column() -> None:
    decoded = decode_csv(edited_csv({("MESSAGE", "summary"): "=HYPERLINK(1)"}))
    assert isinstance(decoded.message, CaseEnquiry)
    assert decoded.message.summary == "=HYPERLINK(1)"
    assert decoded.warnings == (
        "row 3, column summary: starts like a spreadsheet formula; read as plain text",
    )


def test_e164_phone_numbers_are_written_as_they_are() -> None:
    rows = csv_rows(CODEC.encode(alert(), variant="csv").data)
    person = next(r for r in rows if r[0] == "PERSON" and r[1] == "2")
    assert person[KEYS.index("phone_numbers")] == "+84912345678"
    assert rows[2][KEYS.index("officer_phone")] == "+868733421100"


def test_a_phone_cell_that_is_not_e164_is_refused_by_row_and_column() -> None:
    with pytest.raises(AdapterInputError) as caught:
        decode_csv(edited_csv({("PERSON", "phone_numbers"): "+cmd|' /C calc'!A0"}))
    assert caught.value.where == "row 4, column phone_numbers"
    assert "calc" not in str(caught.value)


def test_ooxml_escapes_round_trip_and_protect_literal_escapes() -> None:
    text = "a\rb_x0041_c\ufffe\x01"
    assert ooxml_unescape(ooxml_escape(text)) == text
    assert ooxml_unescape("_x000D_\n_xD800_") == "\r\n_xD800_"


def test_zawgyi_burmese_is_converted_with_a_warning() -> None:
    # "Myanmar country" typed with a Zawgyi font: medial ra before the consonant, U+108F ...
    zawgyi = "\u103b\u1019\u1014\u1039\u1019\u102c\u108f\u102d\u102f\u1004\u1039\u1004\u1036"
    cell = read_cell(zawgyi, "row 5, column full_name", phone=False)
    assert cell.text == "မြန်မာနိုင်ငံ"
    assert cell.warnings == (
        "row 5, column full_name: Burmese text in the Zawgyi encoding converted to Unicode",
    )
    unicode_burmese = "မြန်မာ"
    assert read_cell(unicode_burmese, "x", phone=False) == type(cell)(unicode_burmese, ())


def test_decomposed_vietnamese_is_normalised_with_a_warning() -> None:
    cell = read_cell("Nguye\u0302\u0303n", "row 6, column family_name", phone=False)
    assert cell.text == "Nguyễn"
    assert cell.warnings == ("row 6, column family_name: text normalised to Unicode NFC",)


# ---------------------------------------------------------------- encodings and layout


def test_gb18030_chinese_csv_is_read_with_a_warning() -> None:
    # Full-width commas are what Chinese text uses (RUF001 allowances below).
    chinese = dataclasses.replace(
        alert(),
        summary="陈小燕，女，6岁，2025年3月9日16时30分在河口北站公交车站走失。",  # noqa: RUF001
        question="请协查，发现线索请立即电话联系。",  # noqa: RUF001
        persons=(),
        places=(),
        vehicles=(),
        attachments=(),
    )
    text = CODEC.encode(chinese, variant="csv:zh-Hans").data.decode("utf-8-sig")
    decoded = decode_csv(text.encode("gb18030"))
    assert decoded.message == chinese
    assert decoded.warnings == ("file: not UTF-8; read as GB18030 (Chinese); check the names",)


def test_gb18030_bytes_of_non_chinese_text_are_refused() -> None:
    text = CODEC.encode(alert(), variant="csv").data.decode("utf-8-sig")
    with pytest.raises(AdapterInputError, match="neither UTF-8 nor GB18030") as caught:
        decode_csv(text.encode("gb18030"))  # Vietnamese letters decode, but are not Chinese
    assert caught.value.where == "file"


def test_lf_only_and_mixed_newlines_are_read() -> None:
    rows = csv_rows(CODEC.encode(alert(), variant="csv").data)
    lf = csv_bytes(rows, newline="\n")
    assert decode_csv(lf).message == without_losses(alert())
    mixed = csv_bytes(rows[:3], newline="\n") + csv_bytes(rows[3:], bom=False)
    assert decode_csv(mixed).message == without_losses(alert())


def test_a_sheet_may_leave_columns_out_and_reorder_them() -> None:
    rows = csv_rows(CODEC.encode(alert(), variant="csv").data)
    used = [i for i in range(len(KEYS)) if any(r[i] for r in rows[2:])]
    reordered = [[r[i] for i in reversed(used)] for r in rows]
    assert decode_csv(csv_bytes(reordered)).message == without_losses(alert())


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        ({("MESSAGE", "priority"): "SOON"}, "row 3, column priority"),
        ({("PERSON", "date_of_birth"): "2018-13-02"}, "row 4, column date_of_birth"),
        ({("PERSON", "date_of_birth"): "02/11/2018"}, "row 4, column date_of_birth"),
        ({("MESSAGE", "response_due"): "2025-03-10"}, "row 3, column response_due"),
        ({("MESSAGE", "legal_basis"): "mekong 2014"}, "row 3, column legal_basis"),
        ({("MESSAGE", "status"): "ANSWERED"}, "row 3, column status"),
        ({("PERSON", "nationalities"): "china"}, "row 4, column nationalities"),
        ({("PLACE", "country"): ""}, "row 15, column country"),
        ({("PLACE", "role"): "VICTIM"}, "row 15, column role"),
        ({("NAME", "name_order"): ""}, "row 5, column name_order"),
        ({("MESSAGE", "record"): "LETTER"}, "row 3, column record"),
        ({("PERSON", "person"): "2"}, "row 4, column person"),
    ],
)
def test_each_fault_names_its_row_and_column(edit: dict[tuple[str, str], str], where: str) -> None:
    with pytest.raises(AdapterInputError) as caught:
        decode_csv(edited_csv(edit))
    assert caught.value.where == where


def test_two_message_rows_are_refused() -> None:
    rows = csv_rows(CODEC.encode(alert(), variant="csv").data)
    with pytest.raises(AdapterInputError) as caught:
        decode_csv(csv_bytes([*rows, rows[2]]))
    assert caught.value.where == f"row {len(rows) + 1}"


def test_row_two_must_be_labels() -> None:
    rows = csv_rows(CODEC.encode(alert(), variant="csv").data)
    with pytest.raises(AdapterInputError) as caught:
        decode_csv(csv_bytes([rows[0], *rows[2:]]))
    assert caught.value.where == "row 2"

"""Persons and their parts: each invariant rejects with the right field path."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from broker.errors import InvalidMessage
from broker.model import (
    Account,
    CaseEnquiry,
    DatePrecision,
    DocumentType,
    IdentityDocument,
    Name,
    NameOrder,
    PartialDate,
    Person,
    PersonRole,
    Sex,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def rejects(path: str, build: Callable[[], object]) -> InvalidMessage:
    with pytest.raises(InvalidMessage) as info:
        build()
    assert info.value.field == path, info.value.diagnosis
    return info.value


def hanzi() -> Name:
    return Name(
        script="Hans",
        language="zh",
        order=NameOrder.FAMILY_FIRST,
        family_name="陈",
        given_names="小燕",
        full_name="陈小燕",
    )


def pinyin(of: int | None = 0) -> Name:
    return Name(
        script="Latn",
        language="zh-Latn-pinyin",
        order=NameOrder.FAMILY_FIRST,
        family_name="Chén",
        given_names="Xiǎoyàn",
        full_name="Chén Xiǎoyàn",
        transliteration_of=of,
    )


def person(**changes: object) -> Person:
    base = Person(
        role=PersonRole.MISSING_CHILD,
        names=(hanzi(), pinyin()),
        date_of_birth=PartialDate.of_year(2018),
        sex=Sex.FEMALE,
        nationalities=("CHN",),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# ---------------------------------------------------------------- PartialDate


def test_partial_dates_of_each_precision_print_as_reduced_iso_8601() -> None:
    assert str(PartialDate.of_year(1987)) == "1987"
    assert str(PartialDate.of_month(1979, 6)) == "1979-06"
    assert str(PartialDate.of_day(2024, 2, 29)) == "2024-02-29"
    assert PartialDate.of_year(1987).precision is DatePrecision.YEAR


@pytest.mark.parametrize(
    ("path", "build"),
    [
        ("year", lambda: PartialDate.of_year(0)),
        ("year", lambda: PartialDate.of_year(10_000)),
        ("year", lambda: PartialDate.of_year(year=True)),
        ("month", lambda: PartialDate(precision=DatePrecision.YEAR, year=1990, month=3)),
        ("day", lambda: PartialDate(precision=DatePrecision.YEAR, year=1990, day=3)),
        ("month", lambda: PartialDate(precision=DatePrecision.YEAR_MONTH, year=1990)),
        ("month", lambda: PartialDate.of_month(1990, 13)),
        ("day", lambda: PartialDate(precision=DatePrecision.YEAR_MONTH, year=1990, month=2, day=1)),
        ("month", lambda: PartialDate(precision=DatePrecision.DAY, year=1990, day=5)),
        ("day", lambda: PartialDate.of_day(2023, 2, 29)),
        ("day", lambda: PartialDate.of_day(2023, 4, 31)),
        ("day", lambda: PartialDate.of_day(2023, 4, 0)),
        ("precision", lambda: PartialDate(precision=1, year=1990)),  # type: ignore[arg-type]
    ],
)
def test_partial_date_rules(path: str, build: Callable[[], object]) -> None:
    rejects(path, build)


# ---------------------------------------------------------------- Name


@pytest.mark.parametrize(
    ("path", "changes"),
    [
        ("script", {"script": "hans"}),
        ("script", {"script": "Han"}),
        ("script", {"script": ""}),
        ("language", {"language": "Chinese"}),
        ("language", {"language": "zh_CN"}),
        ("language", {"language": ""}),
        ("order", {"order": 1}),
        ("full_name", {"full_name": ""}),
        ("full_name", {"full_name": "   "}),
        ("full_name", {"full_name": "陈" * 201}),
        ("family_name", {"family_name": "陈\n"}),
        ("given_names", {"given_names": "小燕\x00"}),
        ("transliteration_of", {"transliteration_of": -1}),
        ("transliteration_of", {"transliteration_of": 20}),
    ],
)
def test_name_rules(path: str, changes: dict[str, object]) -> None:
    rejects(path, lambda: dataclasses.replace(hanzi(), **changes))  # type: ignore[arg-type]


def test_a_single_name_has_no_family_name() -> None:
    rejects(
        "family_name",
        lambda: Name(
            script="Mymr",
            language="my",
            order=NameOrder.SINGLE_NAME,
            family_name="Aung",
            full_name="Aung",
        ),
    )
    single = Name(script="Mymr", language="my", order=NameOrder.SINGLE_NAME, full_name="အောင်")
    assert single.full_name == "အောင်"


def test_text_that_is_not_nfc_is_rejected_not_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Hằng")
    assert decomposed != "Nguyễn Thị Hằng"
    error = rejects(
        "full_name",
        lambda: Name(
            script="Latn", language="vi", order=NameOrder.FAMILY_FIRST, full_name=decomposed
        ),
    )
    assert "NFC" in error.diagnosis
    composed = Name(
        script="Latn", language="vi", order=NameOrder.FAMILY_FIRST, full_name="Nguyễn Thị Hằng"
    )
    assert composed.full_name == unicodedata.normalize("NFC", decomposed)


def test_errors_and_reprs_never_quote_the_name() -> None:
    error = rejects("full_name", lambda: dataclasses.replace(hanzi(), full_name="陈小燕\x07"))
    assert "陈" not in error.diagnosis
    assert "U+0007" in error.diagnosis
    shown = repr(person()) + repr(hanzi()) + repr(PartialDate.of_year(2018))
    for secret in ("陈", "Chén", "2018", "CHN"):
        assert secret not in shown


# ---------------------------------------------------------------- transliterations


def test_a_transliteration_points_at_an_original_in_the_same_list() -> None:
    rejects("names[1].transliteration_of", lambda: person(names=(hanzi(), pinyin(of=2))))
    rejects("names[1].transliteration_of", lambda: person(names=(hanzi(), pinyin(of=1))))
    rejects(
        "names[2].transliteration_of",
        lambda: person(names=(hanzi(), pinyin(of=0), pinyin(of=1))),
    )
    rejects("aliases[0].transliteration_of", lambda: person(aliases=(pinyin(of=1),)))
    assert person(names=(pinyin(of=1), hanzi())).names[0].transliteration_of == 1


# ---------------------------------------------------------------- Person


@pytest.mark.parametrize(
    ("path", "changes"),
    [
        ("role", {"role": 4}),
        ("names", {"names": ()}),
        ("names", {"names": (hanzi(),) * 21}),
        ("names[0]", {"names": ("陈小燕",)}),
        ("aliases", {"aliases": (hanzi(),) * 21}),
        ("date_of_birth", {"date_of_birth": "2018"}),
        ("sex", {"sex": 2}),
        ("nationalities[0]", {"nationalities": ("CN",)}),
        ("nationalities[1]", {"nationalities": ("CHN", "chn")}),
        ("nationalities[1]", {"nationalities": ("CHN", "CHN")}),
        ("nationalities", {"nationalities": ("CHN", "VNM", "LAO", "MMR", "KHM", "THA")}),
        ("documents[0]", {"documents": ("E73829164",)}),
        ("phone_numbers[0]", {"phone_numbers": ("0912345678",)}),
        ("phone_numbers[0]", {"phone_numbers": ("+84 912 345 678",)}),
        ("phone_numbers[0]", {"phone_numbers": ("+8491234567890123",)}),
        ("phone_numbers[0]", {"phone_numbers": ("+0912345678",)}),
        ("accounts[0]", {"accounts": ("wechat:hang87lc",)}),
        ("dna_reference", {"dna_reference": "D3S1358 15,16; vWA 17,18"}),
        ("description", {"description": "x" * 2001}),
        ("description", {"description": "line\x0bline"}),
    ],
)
def test_person_rules(path: str, changes: dict[str, object]) -> None:
    rejects(path, lambda: person(**changes))


def test_person_accepts_icao_codes_lists_and_multiline_description() -> None:
    value = person(
        nationalities=["XXA", "D"],
        phone_numbers=["+8613812345678"],
        dna_reference="CN-DNA/2025.0113_7",
        description="about 110 cm\nscar above the left eyebrow",
    )
    assert value.nationalities == ("XXA", "D")
    assert value.phone_numbers == ("+8613812345678",)
    assert Sex.NOT_KNOWN.iso5218 == 0
    assert Sex.FEMALE.iso5218 == 2


@pytest.mark.parametrize(
    ("path", "build"),
    [
        (
            "document_type",
            lambda: IdentityDocument(document_type=1, number="E1"),  # type: ignore[arg-type]
        ),
        ("number", lambda: IdentityDocument(document_type=DocumentType.PASSPORT, number="")),
        (
            "issuing_country",
            lambda: IdentityDocument(
                document_type=DocumentType.PASSPORT, number="E1", issuing_country="CN"
            ),
        ),
        (
            "expiry",
            lambda: IdentityDocument(
                document_type=DocumentType.PASSPORT,
                number="E1",
                expiry="2027",  # type: ignore[arg-type]
            ),
        ),
        ("platform", lambda: Account(platform="WeChat", handle="hang87lc")),
        ("platform", lambda: Account(platform="", handle="hang87lc")),
        ("handle", lambda: Account(platform="wechat", handle="")),
    ],
)
def test_document_and_account_rules(path: str, build: Callable[[], object]) -> None:
    rejects(path, build)


def test_the_examples_people_are_valid() -> None:
    alert = CaseEnquiry.from_json((EXAMPLES / "missing-child-alert.json").read_text("utf-8"))
    scripts = {name.script for p in alert.persons for name in p.names}
    assert scripts == {"Hans", "Latn", "Laoo"}


def test_wrong_python_types_are_reported_as_invalid_messages() -> None:
    rejects("script", lambda: dataclasses.replace(hanzi(), script=None))  # type: ignore[arg-type]
    rejects("names", lambda: person(names={hanzi()}))
    rejects("aliases", lambda: person(aliases=hanzi()))

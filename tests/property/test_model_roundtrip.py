"""Round trips of the case messages, and decoding that only ever fails as InvalidMessage."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import unicodedata
from collections.abc import Callable

from hypothesis import example, given, settings
from hypothesis import strategies as st

from broker.errors import InvalidMessage, RejectReason
from broker.model import (
    Account,
    Attachment,
    CaseEnquiry,
    CaseResponse,
    Coordinates,
    DocumentType,
    EnquiryType,
    Evaluation,
    Handling,
    HandlingCode,
    IdentityDocument,
    InformationAccuracy,
    Name,
    NameOrder,
    Officer,
    Organisation,
    PartialDate,
    Person,
    PersonRole,
    Place,
    Priority,
    Receipt,
    ReceiptStatus,
    ResponseStatus,
    Sex,
    SourceReliability,
    Vehicle,
)

SETTINGS = settings(max_examples=100, deadline=None)

# ---------------------------------------------------------------- text and codes


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def line(min_size: int = 0, max_size: int = 24) -> st.SearchStrategy[str]:
    """Single-line NFC text from any script, required ones not blank."""
    chars = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"))
    text = st.text(chars, min_size=min_size, max_size=max_size).map(_nfc)
    return text.filter(lambda t: bool(t.strip())) if min_size else text


def lines(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[str]:
    """Multi-line NFC text: also tab, line feed and carriage return."""
    chars = st.characters(
        codec="utf-8", exclude_categories=("Cc", "Cs"), include_characters="\t\n\r"
    )
    text = st.text(chars, min_size=min_size, max_size=max_size).map(_nfc)
    return text.filter(lambda t: bool(t.strip())) if min_size else text


def regex(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


office_ids = regex(r"[A-Z]{2}(-[A-Z0-9]{2,10}){1,4}")
uuids = st.uuids().map(str)
countries = regex(r"[A-Z]{3}") | st.just("D")
optional_countries = st.just("") | countries
phones = regex(r"\+[1-9][0-9]{7,14}")
languages = st.sampled_from(
    ["zh", "zh-Hans", "zh-Latn-pinyin", "vi", "lo", "lo-Latn", "my", "en"]
) | regex(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}")
scripts = st.sampled_from(["Hans", "Hant", "Latn", "Laoo", "Mymr", "Khmr", "Thai"]) | regex(
    r"[A-Z][a-z]{3}"
)
times = st.datetimes(
    min_value=dt.datetime(1, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive by design
    max_value=dt.datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m))),
)

# ---------------------------------------------------------------- entities

partial_dates = st.one_of(
    st.integers(1, 9999).map(PartialDate.of_year),
    st.builds(PartialDate.of_month, st.integers(1, 9999), st.integers(1, 12)),
    st.dates().map(lambda d: PartialDate.of_day(d.year, d.month, d.day)),
)


@st.composite
def single_names(draw: st.DrawFn, transliteration_of: int | None = None) -> Name:
    order = draw(st.sampled_from(NameOrder))
    single = order is NameOrder.SINGLE_NAME
    return Name(
        script=draw(scripts),
        language=draw(languages),
        order=order,
        full_name=draw(line(1)),
        family_name="" if single else draw(line()),
        second_family_name="" if single else draw(line(max_size=8)),
        given_names=draw(line()),
        transliteration_of=transliteration_of,
    )


@st.composite
def name_lists(draw: st.DrawFn, min_size: int = 1) -> tuple[Name, ...]:
    """Originals and transliterations of them, shuffled, with the indices kept right."""
    originals = draw(st.integers(min_size, 3))
    targets = draw(st.lists(st.integers(0, max(originals - 1, 0)), max_size=3 if originals else 0))
    order = draw(st.permutations(range(originals + len(targets))))
    position = {old: new for new, old in enumerate(order)}
    entries: list[Name | None] = [None] * len(order)
    for old in range(originals):
        entries[position[old]] = draw(single_names())
    for offset, target in enumerate(targets):
        entries[position[originals + offset]] = draw(single_names(position[target]))
    return tuple(e for e in entries if e is not None)


documents = st.builds(
    IdentityDocument,
    document_type=st.sampled_from(DocumentType),
    number=line(1, 20),
    issuing_country=optional_countries,
    expiry=st.none() | partial_dates,
)
accounts = st.builds(Account, platform=regex(r"[a-z0-9][a-z0-9._-]{0,31}"), handle=line(1))
persons = st.builds(
    Person,
    role=st.sampled_from(PersonRole),
    names=name_lists(),
    aliases=name_lists(min_size=0),
    date_of_birth=st.none() | partial_dates,
    sex=st.sampled_from(Sex),
    nationalities=st.lists(countries, max_size=3, unique=True).map(tuple),
    documents=st.lists(documents, max_size=2).map(tuple),
    phone_numbers=st.lists(phones, max_size=2).map(tuple),
    accounts=st.lists(accounts, max_size=2).map(tuple),
    dna_reference=st.just("") | regex(r"[A-Za-z0-9][A-Za-z0-9/._-]{0,30}"),
    description=lines(),
)
places = st.builds(
    Place,
    label=line(1),
    country=countries,
    province=line(),
    district=line(),
    village=line(),
    address=lines(),
    coordinates=st.none()
    | st.builds(
        Coordinates,
        latitude=st.floats(-90, 90, allow_nan=False),
        longitude=st.floats(-180, 180, allow_nan=False),
    ),
)
vehicles = st.builds(
    Vehicle,
    kind=line(1),
    registration=line(max_size=12),
    country=optional_countries,
    make_model=line(),
    colour=line(),
)
organisations = st.builds(
    Organisation, name=line(1), kind=line(), country=optional_countries, address=lines()
)
file_names = line(1, 40).filter(lambda n: not {"/", "\\"} & set(n) and n.strip() not in (".", ".."))
attachments = st.builds(
    Attachment.of,
    file_names,
    regex(r"[a-z0-9][a-z0-9.+-]{0,20}/[a-z0-9][a-z0-9.+-]{0,20}"),
    st.binary(min_size=1, max_size=64),
)
officers = st.builds(
    Officer,
    officer_id=line(1, 16),
    name=line(1),
    rank=line(),
    phone=st.just("") | phones,
    email=st.just("") | regex(r"[a-z0-9._]{1,20}@[a-z0-9-]{1,20}\.[a-z]{2,6}"),
)


@st.composite
def handling_codes(draw: st.DrawFn) -> HandlingCode:
    code = draw(st.sampled_from(Handling))
    return HandlingCode(code=code, conditions=draw(lines(1)) if code is Handling.H3 else "")


def few(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[tuple[object, ...]]:
    return st.lists(strategy, max_size=2).map(tuple)


# ---------------------------------------------------------------- messages


@st.composite
def enquiries(draw: st.DrawFn) -> CaseEnquiry:
    offices = draw(st.lists(office_ids, min_size=2, max_size=5, unique=True))
    return CaseEnquiry(
        enquiry_id=draw(uuids),
        case_reference=draw(line(1)),
        requesting_office=offices[0],
        requesting_officer=draw(officers),
        recipient_offices=tuple(offices[1:]),
        enquiry_type=draw(st.sampled_from(EnquiryType)),
        legal_basis=draw(regex(r"[A-Z0-9]{1,8}(-[A-Z0-9]{1,8}){0,3}")),
        priority=draw(st.sampled_from(Priority)),
        response_due=draw(times),
        handling=draw(handling_codes()),
        language=draw(languages),
        summary=draw(lines(1)),
        question=draw(lines(1)),
        persons=draw(few(persons)),  # type: ignore[arg-type]
        places=draw(few(places)),  # type: ignore[arg-type]
        vehicles=draw(few(vehicles)),  # type: ignore[arg-type]
        organisations=draw(few(organisations)),  # type: ignore[arg-type]
        attachments=draw(few(attachments)),  # type: ignore[arg-type]
    )


@st.composite
def responses(draw: st.DrawFn) -> CaseResponse:
    status = draw(st.sampled_from(ResponseStatus))
    informs = status.gives_information
    evaluation = Evaluation(
        source_reliability=draw(st.sampled_from(SourceReliability)),
        information_accuracy=draw(st.sampled_from(InformationAccuracy)),
    )
    return CaseResponse(
        response_id=draw(uuids),
        enquiry_id=draw(uuids),
        case_reference=draw(line()),
        responding_office=draw(office_ids),
        responding_officer=draw(officers),
        status=status,
        refusal_reason=draw(lines(1)) if status is ResponseStatus.REFUSED else "",
        evaluation=evaluation if informs else None,
        handling=draw(handling_codes()),
        language=draw(languages),
        text=draw(lines(1)),
        persons=draw(few(persons)) if informs else (),  # type: ignore[arg-type]
        places=draw(few(places)) if informs else (),  # type: ignore[arg-type]
        vehicles=draw(few(vehicles)) if informs else (),  # type: ignore[arg-type]
        organisations=draw(few(organisations)) if informs else (),  # type: ignore[arg-type]
        attachments=draw(few(attachments)),  # type: ignore[arg-type]
    )


@st.composite
def receipts(draw: st.DrawFn) -> Receipt:
    status = draw(st.sampled_from(ReceiptStatus))
    rejected = status is ReceiptStatus.REJECTED
    return Receipt(
        message_id=draw(st.binary(min_size=16, max_size=16)),
        envelope_digest=draw(st.binary(min_size=32, max_size=32)),
        status=status,
        reject_reason=draw(st.sampled_from(RejectReason)) if rejected else None,
        receiving_office=draw(office_ids),
        received_at=draw(times),
    )


messages = st.one_of(enquiries(), responses(), receipts())


@SETTINGS
@given(messages)
def test_value_to_bytes_to_value_is_the_same_value(
    value: CaseEnquiry | CaseResponse | Receipt,
) -> None:
    data = value.to_bytes()
    again = type(value).from_bytes(data)
    assert again == value
    assert again.to_bytes() == data


@SETTINGS
@given(messages)
def test_value_to_json_to_value_is_the_same_value(
    value: CaseEnquiry | CaseResponse | Receipt,
) -> None:
    assert type(value).from_json(value.to_json()) == value


# ---------------------------------------------------------------- the must-show case

HANZI_PINYIN_FAMILY = [
    ("王", "Wáng"),
    ("李", "Lǐ"),
    ("张", "Zhāng"),
    ("刘", "Liú"),
    ("陈", "Chén"),
    ("杨", "Yáng"),
    ("黄", "Huáng"),
    ("赵", "Zhào"),
]
HANZI_PINYIN_GIVEN = [
    ("秀英", "Xiùyīng"),
    ("小燕", "Xiǎoyàn"),
    ("建国", "Jiànguó"),
    ("丽", "Lì"),
    ("强", "Qiáng"),
    ("静", "Jìng"),
    ("芳", "Fāng"),
    ("磊", "Lěi"),
]
VIETNAMESE_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Đặng"]
VIETNAMESE_GIVEN = [
    "Thị Hằng",
    "Văn Hùng",
    "Thị Thu Thảo",
    "Đức Anh",
    "Ngọc Ánh",
    "Minh Tuấn",
    "Thị Phượng",
]
LAO_GIVEN = [
    ("ສົມພອນ", "Somphone"),
    ("ບຸນມີ", "Bounmy"),
    ("ຄຳແພງ", "Khamphaeng"),
    ("ນ້ອຍ", "Noy"),
    ("ມະນີວັນ", "Manivanh"),
]
LAO_FAMILY = [
    ("ແກ້ວມະນີ", "Keomany"),
    ("ພົມມະຈັນ", "Phommachanh"),
    ("ສີສຸວັນ", "Sisouvanh"),
    ("ວົງສະຫວັນ", "Vongsavanh"),
]


def _pair(family: tuple[str, str], given: tuple[str, str], *, lao: bool) -> tuple[Name, Name]:
    """A native-script name and its Latin transliteration (index 0 in its own pair)."""
    if lao:
        native_full, latin_full = f"{given[0]} {family[0]}", f"{given[1]} {family[1]}"
        order, native = (
            NameOrder.GIVEN_FIRST,
            Name(
                script="Laoo",
                language="lo",
                order=NameOrder.GIVEN_FIRST,
                family_name=family[0],
                given_names=given[0],
                full_name=native_full,
            ),
        )
        latin_language = "lo-Latn"
    else:
        native_full, latin_full = f"{family[0]}{given[0]}", f"{family[1]} {given[1]}"
        order, native = (
            NameOrder.FAMILY_FIRST,
            Name(
                script="Hans",
                language="zh",
                order=NameOrder.FAMILY_FIRST,
                family_name=family[0],
                given_names=given[0],
                full_name=native_full,
            ),
        )
        latin_language = "zh-Latn-pinyin"
    latin = Name(
        script="Latn",
        language=latin_language,
        order=order,
        family_name=family[1],
        given_names=given[1],
        full_name=latin_full,
        transliteration_of=0,
    )
    return native, latin


@st.composite
def multilingual_enquiries(draw: st.DrawFn) -> CaseEnquiry:
    """An enquiry naming a Chinese, a Vietnamese and a Lao person, with an attachment."""
    chinese = _pair(
        draw(st.sampled_from(HANZI_PINYIN_FAMILY)),
        draw(st.sampled_from(HANZI_PINYIN_GIVEN)),
        lao=False,
    )
    lao = _pair(draw(st.sampled_from(LAO_FAMILY)), draw(st.sampled_from(LAO_GIVEN)), lao=True)
    family, given = (
        draw(st.sampled_from(VIETNAMESE_FAMILY)),
        draw(st.sampled_from(VIETNAMESE_GIVEN)),
    )
    vietnamese = Name(
        script="Latn",
        language="vi",
        order=NameOrder.FAMILY_FIRST,
        family_name=family,
        given_names=given,
        full_name=f"{family} {given}",
    )
    birth = PartialDate.of_year(draw(st.integers(1950, 2024)))
    return CaseEnquiry(
        enquiry_id=draw(uuids),
        case_reference="YN-HK-2025-0113",
        requesting_office="CN-YN-BLO-HK",
        requesting_officer=Officer(officer_id="HK-0421", name="杨建华"),
        recipient_offices=("VN-BCA-C02", "LA-MOPS-ATD"),
        enquiry_type=EnquiryType.VICTIM_IDENTIFICATION,
        legal_basis="MEKONG-2014",
        priority=Priority.HIGH,
        response_due=dt.datetime(2025, 4, 1, tzinfo=dt.UTC),
        handling=HandlingCode(code=Handling.H2),
        language="en",
        summary="Three persons found together at a border crossing.",
        question="Please identify them.",
        persons=(
            Person(
                role=PersonRole.VICTIM,
                names=chinese,
                date_of_birth=birth,
                sex=Sex.FEMALE,
                nationalities=("CHN",),
            ),
            Person(
                role=PersonRole.SUSPECT,
                names=(vietnamese,),
                date_of_birth=birth,
                sex=Sex.NOT_KNOWN,
                nationalities=("VNM",),
            ),
            Person(
                role=PersonRole.FACILITATOR,
                names=lao,
                date_of_birth=birth,
                sex=Sex.MALE,
                nationalities=("LAO",),
            ),
        ),
        attachments=(
            Attachment.of(
                draw(st.sampled_from(["ảnh.jpg", "照片.jpg", "ຮູບ.jpg"])),
                "image/jpeg",
                draw(st.binary(min_size=1, max_size=256)),
            ),
        ),
    )


def test_the_name_lists_are_nfc_as_written() -> None:
    every = [*VIETNAMESE_FAMILY, *VIETNAMESE_GIVEN]
    for pairs in (HANZI_PINYIN_FAMILY, HANZI_PINYIN_GIVEN, LAO_GIVEN, LAO_FAMILY):
        every += [text for pair in pairs for text in pair]
    assert all(unicodedata.is_normalized("NFC", text) for text in every)
    assert any(not text.isascii() for text in VIETNAMESE_FAMILY)


@settings(max_examples=50, deadline=None)
@given(multilingual_enquiries())
@example(
    CaseEnquiry(
        enquiry_id="5b1f2c3a-7d4e-4f60-9a8b-1c2d3e4f5a6b",
        case_reference="YN-HK-2025-0113",
        requesting_office="CN-YN-BLO-HK",
        requesting_officer=Officer(officer_id="HK-0421", name="杨建华"),
        recipient_offices=("VN-BCA-C02", "LA-MOPS-ATD"),
        enquiry_type=EnquiryType.VICTIM_IDENTIFICATION,
        legal_basis="MEKONG-2014",
        priority=Priority.HIGH,
        response_due=dt.datetime(2025, 4, 1, tzinfo=dt.UTC),
        handling=HandlingCode(code=Handling.H2),
        language="en",
        summary="Three persons found together at a border crossing.",
        question="Please identify them.",
        persons=(
            Person(
                role=PersonRole.VICTIM,
                names=_pair(("陈", "Chén"), ("小燕", "Xiǎoyàn"), lao=False),
                date_of_birth=PartialDate.of_year(2018),
                sex=Sex.FEMALE,
            ),
            Person(
                role=PersonRole.SUSPECT,
                names=(
                    Name(
                        script="Latn",
                        language="vi",
                        order=NameOrder.FAMILY_FIRST,
                        family_name="Nguyễn",
                        given_names="Thị Hằng",
                        full_name="Nguyễn Thị Hằng",
                    ),
                ),
                date_of_birth=PartialDate.of_year(1987),
                sex=Sex.FEMALE,
            ),
            Person(
                role=PersonRole.FACILITATOR,
                names=_pair(("ແກ້ວມະນີ", "Keomany"), ("ສົມພອນ", "Somphone"), lao=True),
                date_of_birth=PartialDate.of_year(1979),
                sex=Sex.MALE,
            ),
        ),
        attachments=(Attachment.of("照片.jpg", "image/jpeg", b"\xff\xd8\xff\xe0JFIF"),),
    )
)
def test_chinese_vietnamese_and_lao_names_round_trip_unchanged(value: CaseEnquiry) -> None:
    data = value.to_bytes()
    again = CaseEnquiry.from_bytes(data)
    assert again == value
    assert again.to_bytes() == data
    assert CaseEnquiry.from_json(value.to_json()) == value
    names = [name.full_name for person in again.persons for name in person.names]
    assert names == [name.full_name for person in value.persons for name in person.names]
    assert {name.script for person in again.persons for name in person.names} == {
        "Hans",
        "Latn",
        "Laoo",
    }
    assert all(
        person.date_of_birth is not None and str(person.date_of_birth).isdigit()
        for person in again.persons
    )
    assert again.attachments[0].content == value.attachments[0].content


# ---------------------------------------------------------------- hostile input

DECODERS: list[Callable[[bytes], object]] = [
    CaseEnquiry.from_bytes,
    CaseResponse.from_bytes,
    Receipt.from_bytes,
]


def _decodes_or_invalid(decode: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(InvalidMessage):
        decode(data)


@SETTINGS
@given(st.sampled_from(DECODERS), st.binary(max_size=512))
def test_random_bytes_only_ever_raise_invalid_message(
    decode: Callable[[bytes], object], data: bytes
) -> None:
    _decodes_or_invalid(decode, data)


@SETTINGS
@given(messages, st.data())
def test_damaged_encodings_only_ever_raise_invalid_message(
    value: CaseEnquiry | CaseResponse | Receipt, data: st.DataObject
) -> None:
    encoded = bytearray(value.to_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        encoded[data.draw(st.integers(0, len(encoded) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    _decodes_or_invalid(type(value).from_bytes, bytes(encoded[:cut]))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
json_keys = st.sampled_from(
    [
        "enquiry_id",
        "persons",
        "names",
        "sex",
        "response_due",
        "attachments",
        "status",
        "received_at",
        "message_id",
    ]
)


@SETTINGS
@given(
    st.sampled_from([CaseEnquiry.from_json, CaseResponse.from_json, Receipt.from_json]),
    st.dictionaries(json_keys, json_values, max_size=4) | json_values,
)
def test_random_json_only_ever_raises_invalid_message(
    decode: Callable[[str], object], document: object
) -> None:
    with contextlib.suppress(InvalidMessage):
        decode(json.dumps(document))

"""adapters.codes: countries with the ICAO overlay, sex, language tags, phones, names, Zawgyi."""

from __future__ import annotations

import pytest

from adapters import codes
from broker.errors import InputError
from broker.model import Sex

NATIONALITIES = ["VNM", "CHN", "LAO", "MMR", "KHM", "ESP", "XXA", "XXB", "XXC", "XXX", "D", "GBN",
                 "UNO", "UNK", "EUE", "XOM", "XPO"]  # fmt: skip


@pytest.mark.parametrize("code", NATIONALITIES)
def test_nationality_codes_include_the_icao_overlay(code: str) -> None:
    assert codes.is_nationality_code(code)


@pytest.mark.parametrize("code", ["", "ZZZ", "vnm", "VN", "DE", "XXY", "DEUX"])
def test_non_codes_are_not_nationalities(code: str) -> None:
    assert not codes.is_nationality_code(code)


def test_normalise_nationality_turns_mrz_d_into_deu() -> None:
    assert codes.normalise_nationality("D") == "DEU"
    assert codes.normalise_nationality(" vnm ") == "VNM"
    assert codes.normalise_nationality("XXA") == "XXA"
    with pytest.raises(InputError, match="nationality code") as caught:
        codes.normalise_nationality("QQQ")
    assert "QQQ" not in str(caught.value)


def test_alpha_conversions() -> None:
    assert codes.alpha3_to_alpha2("VNM") == "VN"
    assert codes.alpha3_to_alpha2("D") == "DE"
    assert codes.alpha2_to_alpha3("LA") == "LAO"
    with pytest.raises(InputError):
        codes.alpha3_to_alpha2("XXA")  # stateless has no alpha-2
    with pytest.raises(InputError):
        codes.alpha2_to_alpha3("ZZ")


def test_subdivisions() -> None:
    assert codes.is_subdivision_code("CN-YN")
    assert codes.is_subdivision_code("CN-GX")
    assert not codes.is_subdivision_code("CN-ZZ")
    assert not codes.is_subdivision_code("CNYN")


def test_sex_maps_between_iso_5218_and_icao() -> None:
    assert codes.to_icao_sex(Sex.FEMALE) == "F"
    assert codes.to_icao_sex(Sex.MALE) == "M"
    assert codes.to_icao_sex(Sex.NOT_APPLICABLE) == "X"
    assert codes.from_icao_sex("f") == Sex.FEMALE
    assert codes.from_icao_sex("<") == Sex.NOT_KNOWN
    with pytest.raises(InputError):
        codes.from_icao_sex("Q")


def test_language_tags() -> None:
    assert codes.is_language_tag("zh-Latn-pinyin")
    assert codes.is_language_tag("my-MM")
    assert not codes.is_language_tag("xx-zz-q")
    assert not codes.is_language_tag("zh_CN")
    assert not codes.is_language_tag("x" * 100)
    assert codes.normalise_language_tag("ZH-latn") == "zh-Latn"


def test_phones_normalise_to_e164_without_corruption() -> None:
    assert codes.to_e164("+8613800000000") == "+8613800000000"
    assert codes.to_e164("0912 345 678", default_region="VN") == "+84912345678"
    assert codes.is_e164("+8613800000000")
    assert not codes.is_e164("+86 138 0000 0000")
    with pytest.raises(InputError):
        codes.to_e164("not a phone")
    with pytest.raises(InputError):
        codes.to_e164("12")  # no region, no country code


@pytest.mark.parametrize(
    ("family", "given", "expected"),
    [
        ("吕", "小明", ("Lyu", "Xiaoming")),
        ("女", "", ("Nyu", "")),
        ("欧阳", "娜娜", ("Ouyang", "Nana")),
        ("单", "雄", ("Shan", "Xiong")),
        ("曾", "伟", ("Zeng", "Wei")),
        ("解", "放", ("Xie", "Fang")),
        ("尉迟", "恭", ("Yuchi", "Gong")),
        ("万俟", "卨", ("Moqi", "Xie")),
        ("诸葛", "亮", ("Zhuge", "Liang")),
    ],
)
def test_pinyin_for_family_first_with_surname_readings(
    family: str, given: str, expected: tuple[str, str]
) -> None:
    assert codes.pinyin_for(family, given) == expected


def test_pinyin_passport_style_and_lue_rule() -> None:
    assert codes.pinyin_for("吕", "略", passport_style=True) == ("LYU", "LUE")
    with pytest.raises(InputError):
        codes.pinyin_for("Lü", "")  # only Hanzi is romanised


def test_search_keys_are_ascii_and_casefolded() -> None:
    assert codes.search_key("Nguyễn Thị Lan") == "nguyen thi lan"
    assert codes.search_key("Đặng") == "dang"
    decomposed = "Nguye\u0302\u0303n"
    assert codes.search_key(decomposed) == "nguyen"


def test_nfc() -> None:
    assert codes.is_nfc("Nguyễn")
    assert not codes.is_nfc("Nguye\u0302\u0303n")
    assert codes.to_nfc("Nguye\u0302\u0303n") == "Nguyễn"


def test_zawgyi_sample_is_detected_and_converted() -> None:
    zawgyi = "ေက်ာင္း"  # "school" typed in the Zawgyi font encoding
    assert codes.zawgyi_probability(zawgyi) > 0.95
    unicode_text = codes.zawgyi_to_unicode(zawgyi)
    assert unicode_text == "ကျောင်း"
    assert codes.zawgyi_probability(unicode_text) < 0.05
    assert codes.zawgyi_probability("Lan") == 0.0

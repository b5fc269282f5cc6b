"""Name helpers: Hanyu Pinyin for Chinese names, ASCII search keys, Unicode NFC.

Nothing here splits a name: every function takes the parts the partner gave (family, given) and
keeps their order. Romanisation is only offered for Chinese (GB/T 28039-2011 rules); Lao,
Burmese and Khmer names are never machine-romanised (an ASCII search key is not a spelling).
"""

from __future__ import annotations

import unicodedata
from types import MappingProxyType

from anyascii import anyascii
from pypinyin import Style, lazy_pinyin

from broker.errors import InputError

# Surname readings that differ from a character's most common reading (pypinyin has no surname
# mode: it reads 单 as "dan"), and compound surnames, which are written as one word.
SURNAME_READINGS: MappingProxyType[str, str] = MappingProxyType(
    {
        "单": "shan",
        "曾": "zeng",
        "解": "xie",
        "仇": "qiu",
        "区": "ou",
        "朴": "piao",
        "查": "zha",
        "乐": "yue",
        "盖": "ge",
        "员": "yun",
        "秘": "bi",
        "覃": "qin",
        "缪": "miao",
        "繁": "po",
        "黑": "he",
        "召": "shao",
        "尉迟": "yuchi",
        "万俟": "moqi",
        "欧阳": "ouyang",
        "司马": "sima",
        "诸葛": "zhuge",
        "上官": "shangguan",
        "东方": "dongfang",
        "皇甫": "huangfu",
        "夏侯": "xiahou",
        "令狐": "linghu",
        "慕容": "murong",
        "长孙": "zhangsun",
        "宇文": "yuwen",
        "司徒": "situ",
        "公孙": "gongsun",
        "澹台": "tantai",
        "单于": "chanyu",
    }
)

# The exit-entry document rule (NIA 2021): ü is written YU after L and N (LÜ -> LYU, NÜ -> NYU),
# and U in LÜE/NÜE. pypinyin's NORMAL style writes ü as "v".
_TRAVEL_DOCUMENT_U = MappingProxyType({"lv": "lyu", "nv": "nyu", "lve": "lue", "nve": "nue"})

_MAX_NAME = 256  # characters; names are short, and this bounds the work on hostile input


def pinyin_for(family: str, given: str = "", *, passport_style: bool = False) -> tuple[str, str]:
    """Hanyu Pinyin for a Chinese name given as its family and given parts, in that order.

    ``("吕", "小明")`` -> ``("Lyu", "Xiaoming")``; ``("欧阳", "娜娜")`` -> ``("Ouyang", "Nana")``;
    with ``passport_style`` both are upper case (``LYU``, ``XIAOMING``). The family part is
    read with the surname table; characters that are not Hanzi are refused (InputError).
    """
    for part in (family, given):
        if len(part) > _MAX_NAME or any(not _is_hanzi(ch) for ch in part):
            raise InputError("a Chinese name part must be Hanzi only")
    family_latin = _surname_reading(family)
    given_latin = "".join(_travel_document(s) for s in lazy_pinyin(given, style=Style.NORMAL))
    if passport_style:
        return family_latin.upper(), given_latin.upper()
    return family_latin.capitalize(), given_latin.capitalize()


def search_key(name: str) -> str:
    """An ASCII, case-folded key for matching names (``Đặng`` -> ``dang``); never a spelling."""
    folded = anyascii(unicodedata.normalize("NFC", name[: _MAX_NAME * 4])).casefold()
    return " ".join(folded.split())


def is_nfc(text: str) -> bool:
    """True if ``text`` is in Unicode Normalization Form C (how names are stored)."""
    return unicodedata.is_normalized("NFC", text)


def to_nfc(text: str) -> str:
    """``text`` in Unicode Normalization Form C."""
    return unicodedata.normalize("NFC", text)


def _surname_reading(family: str) -> str:
    if family in SURNAME_READINGS:
        return SURNAME_READINGS[family]
    # A family part not in the table: read each character, the first one as a surname.
    head, rest = family[:1], family[1:]
    first = SURNAME_READINGS.get(head) or "".join(
        _travel_document(s) for s in lazy_pinyin(head, style=Style.NORMAL)
    )
    return first + "".join(_travel_document(s) for s in lazy_pinyin(rest, style=Style.NORMAL))


def _travel_document(syllable: str) -> str:
    return _TRAVEL_DOCUMENT_U.get(syllable, syllable)


def _is_hanzi(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("CJK ") and unicodedata.category(ch) == "Lo"

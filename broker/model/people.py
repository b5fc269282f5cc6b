"""Persons and what identifies them: names, partial dates, identity documents, accounts.

Reprs show codes only (role, script, precision ...), never names, numbers or dates: those are
case content.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from broker.errors import InvalidMessage
from broker.model import _checks as check
from broker.model import limits
from broker.model.codes import DatePrecision, DocumentType, NameOrder, PersonRole, Sex


@dataclass(frozen=True, slots=True, kw_only=True)
class PartialDate:
    """A date of which only the year, or the year and month, may be known.

    Unknown parts are 0; the precision says which parts are meaningful. Use the class methods.
    """

    precision: DatePrecision
    year: int = field(repr=False)
    month: int = field(default=0, repr=False)
    day: int = field(default=0, repr=False)

    @classmethod
    def of_year(cls, year: int) -> PartialDate:
        return cls(precision=DatePrecision.YEAR, year=year)

    @classmethod
    def of_month(cls, year: int, month: int) -> PartialDate:
        return cls(precision=DatePrecision.YEAR_MONTH, year=year, month=month)

    @classmethod
    def of_day(cls, year: int, month: int, day: int) -> PartialDate:
        return cls(precision=DatePrecision.DAY, year=year, month=month, day=day)

    def __post_init__(self) -> None:
        check.enum_member("precision", self.precision, DatePrecision)
        check.integer("year", self.year, 1, 9999)
        check.integer("month", self.month, 0, 12)
        check.integer("day", self.day, 0, 31)
        if self.precision is DatePrecision.YEAR:
            if self.month:
                raise InvalidMessage("month", "must be 0 when only the year is known")
            if self.day:
                raise InvalidMessage("day", "must be 0 when only the year is known")
            return
        if not self.month:
            raise InvalidMessage("month", f"is required with precision {self.precision.name}")
        if self.precision is DatePrecision.YEAR_MONTH:
            if self.day:
                raise InvalidMessage("day", "must be 0 when only the year and month are known")
            return
        try:
            dt.date(self.year, self.month, self.day)
        except ValueError:
            raise InvalidMessage("day", "is not a day of that month") from None

    def __str__(self) -> str:
        """ISO 8601 with reduced precision: ``1998``, ``1998-05``, ``1998-05-12``."""
        parts = [f"{self.year:04d}", f"{self.month:02d}", f"{self.day:02d}"]
        return "-".join(parts[: self.precision.value])


@dataclass(frozen=True, slots=True, kw_only=True)
class Name:
    """One written form of a person's name, in one script.

    A native-script name and its Latin transliteration are two Names; the transliteration's
    ``transliteration_of`` is the index of the original in the same tuple (``Person.names`` or
    ``Person.aliases``).
    """

    script: str  # ISO 15924: "Hans", "Hant", "Latn", "Laoo", "Mymr", "Khmr", "Thai"
    language: str  # BCP 47: "zh", "zh-Latn-pinyin", "vi", "lo", "lo-Latn"
    order: NameOrder
    full_name: str = field(repr=False)  # as written, always set
    family_name: str = field(default="", repr=False)
    second_family_name: str = field(default="", repr=False)
    given_names: str = field(default="", repr=False)
    transliteration_of: int | None = None

    def __post_init__(self) -> None:
        check.pattern("script", self.script, check.SCRIPT, "an ISO 15924 script code", 4)
        check.language_tag("language", self.language)
        check.enum_member("order", self.order, NameOrder)
        check.text("full_name", self.full_name, limit=limits.MAX_NAME_CHARS, required=True)
        for part in ("family_name", "second_family_name", "given_names"):
            check.text(part, getattr(self, part), limit=limits.MAX_NAME_CHARS)
        if self.order is NameOrder.SINGLE_NAME and (self.family_name or self.second_family_name):
            raise InvalidMessage("family_name", "must be empty for a single name")
        if self.transliteration_of is not None:
            check.integer("transliteration_of", self.transliteration_of, 0, limits.MAX_NAMES - 1)


def _check_transliterations(path: str, names: tuple[Name, ...]) -> None:
    """Each transliteration points at another name of the same tuple that is an original."""
    for index, name in enumerate(names):
        target = name.transliteration_of
        if target is None:
            continue
        where = f"{path}[{index}].transliteration_of"
        if target >= len(names):
            raise InvalidMessage(where, "points past the end of the list")
        if target == index:
            raise InvalidMessage(where, "points at the name itself")
        if names[target].transliteration_of is not None:
            raise InvalidMessage(where, "points at another transliteration, not an original")


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityDocument:
    """An identity document a person holds or used."""

    document_type: DocumentType
    number: str = field(repr=False)
    issuing_country: str = ""  # ISO 3166-1 alpha-3 (or ICAO "D"); empty if unknown
    expiry: PartialDate | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check.enum_member("document_type", self.document_type, DocumentType)
        check.text("number", self.number, limit=limits.MAX_ID_CHARS, required=True)
        check.country("issuing_country", self.issuing_country, required=False)
        if self.expiry is not None:
            check.instance("expiry", self.expiry, PartialDate)


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """An account on a social network or messaging service, or an e-mail address."""

    platform: str  # lower case: "wechat", "zalo", "facebook", "line", "whatsapp", "email"
    handle: str = field(repr=False)

    def __post_init__(self) -> None:
        check.pattern("platform", self.platform, check.PLATFORM, "a lower-case platform name", 32)
        check.text("handle", self.handle, limit=limits.MAX_HANDLE_CHARS, required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    """A person in the case. ``sex`` is required: say ``Sex.NOT_KNOWN`` when it is not known."""

    role: PersonRole
    names: tuple[Name, ...] = field(repr=False)
    aliases: tuple[Name, ...] = field(default=(), repr=False)
    date_of_birth: PartialDate | None = field(default=None, repr=False)
    sex: Sex = field(repr=False)
    nationalities: tuple[str, ...] = field(default=(), repr=False)
    documents: tuple[IdentityDocument, ...] = field(default=(), repr=False)
    phone_numbers: tuple[str, ...] = field(default=(), repr=False)
    accounts: tuple[Account, ...] = field(default=(), repr=False)
    dna_reference: str = field(default="", repr=False)  # a database reference, never a profile
    description: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        for name in ("names", "aliases", "nationalities", "documents", "phone_numbers", "accounts"):
            check.set_tuple(self, name)
        check.enum_member("role", self.role, PersonRole)
        check.items("names", self.names, Name, limit=limits.MAX_NAMES, minimum=1)
        _check_transliterations("names", self.names)
        check.items("aliases", self.aliases, Name, limit=limits.MAX_NAMES)
        _check_transliterations("aliases", self.aliases)
        if self.date_of_birth is not None:
            check.instance("date_of_birth", self.date_of_birth, PartialDate)
        check.enum_member("sex", self.sex, Sex)
        check.items("nationalities", self.nationalities, str, limit=limits.MAX_NATIONALITIES)
        for index, code in enumerate(self.nationalities):
            check.country(f"nationalities[{index}]", code)
        check.unique("nationalities", self.nationalities)
        check.items("documents", self.documents, IdentityDocument, limit=limits.MAX_DOCUMENTS)
        check.items("phone_numbers", self.phone_numbers, str, limit=limits.MAX_PHONE_NUMBERS)
        for index, number in enumerate(self.phone_numbers):
            check.e164(f"phone_numbers[{index}]", number)
        check.items("accounts", self.accounts, Account, limit=limits.MAX_ACCOUNTS)
        if self.dna_reference != "":
            check.pattern(
                "dna_reference",
                self.dna_reference,
                check.DNA_REFERENCE,
                "a DNA reference number (letters, digits, '/._-'; never a profile)",
                limits.MAX_ID_CHARS,
            )
        check.text(
            "description", self.description, limit=limits.MAX_DESCRIPTION_CHARS, multiline=True
        )

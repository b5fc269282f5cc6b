"""Places, vehicles, organisations, attachments, officers and handling codes.

Reprs show codes only, never addresses, names or content: those are case content.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from broker.errors import InvalidMessage
from broker.model import _checks as check
from broker.model import limits
from broker.model.codes import Handling


@dataclass(frozen=True, slots=True, kw_only=True)
class Coordinates:
    """Latitude and longitude in decimal degrees (WGS 84)."""

    latitude: float = field(repr=False)
    longitude: float = field(repr=False)

    def __post_init__(self) -> None:
        for name, bound in (("latitude", 90.0), ("longitude", 180.0)):
            value = getattr(self, name)
            if not isinstance(value, float | int) or isinstance(value, bool):
                raise InvalidMessage(name, "must be a number")
            if not math.isfinite(value) or not -bound <= value <= bound:
                raise InvalidMessage(name, f"must be between -{bound:g} and {bound:g}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """A place in the case: ``label`` says what it is to the case ("last seen")."""

    label: str = field(repr=False)
    country: str  # ISO 3166-1 alpha-3
    province: str = field(default="", repr=False)
    district: str = field(default="", repr=False)  # county, district or prefecture
    village: str = field(default="", repr=False)
    address: str = field(default="", repr=False)
    coordinates: Coordinates | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check.text("label", self.label, limit=limits.MAX_SHORT_TEXT_CHARS, required=True)
        check.country("country", self.country)
        for name in ("province", "district", "village"):
            check.text(name, getattr(self, name), limit=limits.MAX_SHORT_TEXT_CHARS)
        check.text("address", self.address, limit=limits.MAX_ADDRESS_CHARS, multiline=True)
        if self.coordinates is not None:
            check.instance("coordinates", self.coordinates, Coordinates)


@dataclass(frozen=True, slots=True, kw_only=True)
class Vehicle:
    """A vehicle in the case."""

    kind: str  # "car", "van", "truck", "motorcycle", "boat", ...
    registration: str = field(default="", repr=False)
    country: str = ""  # ISO 3166-1 alpha-3 of the registration; empty if unknown
    make_model: str = field(default="", repr=False)
    colour: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        check.text("kind", self.kind, limit=limits.MAX_SHORT_TEXT_CHARS, required=True)
        check.text("registration", self.registration, limit=limits.MAX_ID_CHARS)
        check.country("country", self.country, required=False)
        check.text("make_model", self.make_model, limit=limits.MAX_SHORT_TEXT_CHARS)
        check.text("colour", self.colour, limit=limits.MAX_SHORT_TEXT_CHARS)


@dataclass(frozen=True, slots=True, kw_only=True)
class Organisation:
    """An organisation in the case: a marriage broker, an employment agency, a company."""

    name: str = field(repr=False)
    kind: str = ""  # "marriage broker", "employment agency", ...
    country: str = ""  # ISO 3166-1 alpha-3; empty if unknown
    address: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        check.text("name", self.name, limit=limits.MAX_NAME_CHARS, required=True)
        check.text("kind", self.kind, limit=limits.MAX_SHORT_TEXT_CHARS)
        check.country("country", self.country, required=False)
        check.text("address", self.address, limit=limits.MAX_ADDRESS_CHARS, multiline=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A file sent with a message. Build one with :meth:`of`, which computes the digest."""

    name: str = field(repr=False)  # a bare file name: no directory part
    media_type: str  # lower case, no parameters: "image/jpeg", "application/pdf"
    content: bytes = field(repr=False)
    sha256: bytes = field(repr=False)

    @classmethod
    def of(cls, name: str, media_type: str, content: bytes) -> Attachment:
        return cls(
            name=name,
            media_type=media_type,
            content=content,
            sha256=hashlib.sha256(content).digest(),
        )

    def __post_init__(self) -> None:
        check.text("name", self.name, limit=limits.MAX_FILE_NAME_CHARS, required=True)
        if "/" in self.name or "\\" in self.name or self.name.strip() in (".", ".."):
            raise InvalidMessage("name", "must be a bare file name, without a directory part")
        check.pattern("media_type", self.media_type, check.MEDIA_TYPE, "a media type", 255)
        if not isinstance(self.content, bytes):
            raise InvalidMessage("content", "must be bytes")
        if not self.content:
            raise InvalidMessage("content", "is empty")
        if len(self.content) > limits.MAX_ATTACHMENT_BYTES:
            raise InvalidMessage("content", f"is larger than {limits.MAX_ATTACHMENT_BYTES} bytes")
        if not isinstance(self.sha256, bytes) or len(self.sha256) != 32:
            raise InvalidMessage("sha256", "must be 32 bytes")
        if hashlib.sha256(self.content).digest() != self.sha256:
            raise InvalidMessage("sha256", "does not match the SHA-256 of the content")


def check_attachments(path: str, attachments: tuple[Attachment, ...]) -> None:
    """Count and total size of a message's attachments."""
    check.items(path, attachments, Attachment, limit=limits.MAX_ATTACHMENTS)
    if sum(len(a.content) for a in attachments) > limits.MAX_ATTACHMENTS_TOTAL_BYTES:
        raise InvalidMessage(
            path, f"are larger than {limits.MAX_ATTACHMENTS_TOTAL_BYTES} bytes together"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Officer:
    """The officer responsible for a message."""

    officer_id: str  # badge or staff number within the office
    name: str = field(repr=False)
    rank: str = field(default="", repr=False)
    phone: str = field(default="", repr=False)  # E.164, or empty
    email: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        check.text("officer_id", self.officer_id, limit=limits.MAX_ID_CHARS, required=True)
        check.text("name", self.name, limit=limits.MAX_NAME_CHARS, required=True)
        check.text("rank", self.rank, limit=limits.MAX_SHORT_TEXT_CHARS)
        if self.phone != "":
            check.e164("phone", self.phone)
        if self.email != "":
            check.text("email", self.email, limit=limits.MAX_HANDLE_CHARS)
            check.pattern("email", self.email, check.EMAIL, "an e-mail address", 254)


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlingCode:
    """A handling code; H3 states its conditions in words, H0-H2 have none."""

    code: Handling
    conditions: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        check.enum_member("code", self.code, Handling)
        check.text(
            "conditions",
            self.conditions,
            limit=limits.MAX_CONDITIONS_CHARS,
            required=self.code is Handling.H3,
            multiline=True,
        )
        if self.code is not Handling.H3 and self.conditions:
            raise InvalidMessage("conditions", f"must be empty for {self.code.name}")

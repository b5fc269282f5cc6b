"""Places, vehicles, organisations, attachments, officers, handling codes; the text rules."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from broker.errors import InvalidMessage
from broker.model import (
    Attachment,
    Coordinates,
    Handling,
    HandlingCode,
    Officer,
    Organisation,
    Place,
    Vehicle,
    limits,
)

PHOTO = b"\xff\xd8\xff\xe0 not really a jpeg, but bytes all the same"


def rejects(path: str, build: Callable[[], object]) -> InvalidMessage:
    with pytest.raises(InvalidMessage) as info:
        build()
    assert info.value.field == path, info.value.diagnosis
    return info.value


@pytest.mark.parametrize(
    ("path", "build"),
    [
        ("latitude", lambda: Coordinates(latitude=90.5, longitude=0.0)),
        ("latitude", lambda: Coordinates(latitude=float("nan"), longitude=0.0)),
        ("longitude", lambda: Coordinates(latitude=0.0, longitude=-180.01)),
        ("longitude", lambda: Coordinates(latitude=0.0, longitude=float("inf"))),
        ("latitude", lambda: Coordinates(latitude="22.5", longitude=0.0)),  # type: ignore[arg-type]
        ("latitude", lambda: Coordinates(latitude=True, longitude=0.0)),
        ("label", lambda: Place(label="", country="VNM")),
        ("country", lambda: Place(label="last seen", country="")),
        ("country", lambda: Place(label="last seen", country="VN")),
        ("country", lambda: Place(label="last seen", country="Vnm")),
        ("province", lambda: Place(label="last seen", country="VNM", province="L" * 201)),
        ("village", lambda: Place(label="last seen", country="VNM", village="Cốc\tLếu")),
        ("address", lambda: Place(label="x", country="VNM", address="a" * 1001)),
        (
            "coordinates",
            lambda: Place(label="x", country="VNM", coordinates=(22.5, 103.9)),  # type: ignore[arg-type]
        ),
        ("kind", lambda: Vehicle(kind="")),
        ("country", lambda: Vehicle(kind="minivan", country="LA")),
        ("registration", lambda: Vehicle(kind="minivan", registration="ກຈ 4521" * 10)),
        ("name", lambda: Organisation(name="")),
        ("country", lambda: Organisation(name="温州欧华劳务咨询有限公司", country="Chn")),
    ],
)
def test_place_vehicle_organisation_rules(path: str, build: Callable[[], object]) -> None:
    rejects(path, build)


def test_places_accept_the_full_ranges_and_multiline_addresses() -> None:
    corner = Place(
        label="pole",
        country="XXX",
        address="line one\r\nline two",
        coordinates=Coordinates(latitude=-90.0, longitude=180),
    )
    assert corner.coordinates == Coordinates(latitude=-90.0, longitude=180.0)
    assert Vehicle(kind="boat").country == ""


# ---------------------------------------------------------------- Attachment


def test_attachment_of_computes_the_digest() -> None:
    attachment = Attachment.of("photo.jpg", "image/jpeg", PHOTO)
    assert attachment.sha256 == hashlib.sha256(PHOTO).digest()
    assert "photo" not in repr(attachment)
    assert "image/jpeg" in repr(attachment)


@pytest.mark.parametrize(
    ("path", "changes"),
    [
        ("name", {"name": ""}),
        ("name", {"name": "../etc/passwd"}),
        ("name", {"name": "dir\\photo.jpg"}),
        ("name", {"name": ".."}),
        ("name", {"name": "p" * 256}),
        ("media_type", {"media_type": "image"}),
        ("media_type", {"media_type": "Image/JPEG"}),
        ("media_type", {"media_type": "text/plain; charset=utf-8"}),
        ("content", {"content": b""}),
        ("content", {"content": "text"}),
        ("sha256", {"sha256": hashlib.sha256(b"other").digest()}),
        ("sha256", {"sha256": hashlib.sha256(PHOTO).digest()[:31]}),
        ("sha256", {"sha256": hashlib.sha256(PHOTO).hexdigest()}),
    ],
)
def test_attachment_rules(path: str, changes: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "name": "photo.jpg",
        "media_type": "image/jpeg",
        "content": PHOTO,
        "sha256": hashlib.sha256(PHOTO).digest(),
    }
    fields.update(changes)
    rejects(path, lambda: Attachment(**fields))  # type: ignore[arg-type]


def test_an_attachment_may_not_exceed_the_size_limit() -> None:
    big = bytes(limits.MAX_ATTACHMENT_BYTES + 1)
    rejects("content", lambda: Attachment.of("big.bin", "application/octet-stream", big))
    exact = Attachment.of("exact.bin", "application/octet-stream", big[:-1])
    assert len(exact.content) == limits.MAX_ATTACHMENT_BYTES


# ---------------------------------------------------------------- Officer, HandlingCode


@pytest.mark.parametrize(
    ("path", "changes"),
    [
        ("officer_id", {"officer_id": ""}),
        ("name", {"name": " "}),
        ("rank", {"rank": "r" * 201}),
        ("phone", {"phone": "0871 3342 1100"}),
        ("email", {"email": "yang.jianhua"}),
        ("email", {"email": "yang jianhua@hekou-blo.example"}),
        ("email", {"email": "yang@hekou-blo.example\n"}),
    ],
)
def test_officer_rules(path: str, changes: dict[str, object]) -> None:
    fields: dict[str, object] = {"officer_id": "HK-0421", "name": "杨建华"}
    fields.update(changes)
    rejects(path, lambda: Officer(**fields))  # type: ignore[arg-type]


def test_h3_needs_conditions_and_only_h3_has_them() -> None:
    rejects("conditions", lambda: HandlingCode(code=Handling.H3))
    rejects("conditions", lambda: HandlingCode(code=Handling.H3, conditions="  "))
    rejects("conditions", lambda: HandlingCode(code=Handling.H1, conditions="ask first"))
    rejects("code", lambda: HandlingCode(code=4))  # type: ignore[arg-type]
    h3 = HandlingCode(code=Handling.H3, conditions="Identification only.\nAsk before any use.")
    assert "Identification" not in repr(h3)


# ---------------------------------------------------------------- text in general


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\ud800", "surrogate"),
        ("Ha\u0300", "NFC"),  # "Hà" decomposed
        ("a\u2028b", "U+2028"),
        ("a\x85b", "U+0085"),
        ("a\x7fb", "U+007F"),
        (b"bytes", "text"),
    ],
)
def test_text_rules_name_the_rule_that_failed(text: object, reason: str) -> None:
    error = rejects("label", lambda: Place(label=text, country="VNM"))  # type: ignore[arg-type]
    assert reason in error.diagnosis


def test_paths_join_as_dotted_paths_with_indices() -> None:
    from broker.model._checks import join  # noqa: PLC0415 - a private helper, tested once here

    assert join("persons[1]", "names[0].script") == "persons[1].names[0].script"
    assert join("persons", "[1]") == "persons[1]"
    assert join("persons[1]", "") == "persons[1]"
    assert join("", "sex") == "sex"

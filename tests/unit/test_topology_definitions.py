"""The definitions document, broker passwords and the routes file."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from broker.errors import InputError, InvalidMessage
from broker.topology import (
    HASHING_ALGORITHM,
    OfficeRoute,
    build_definitions,
    new_password,
    parse_routes,
    password_matches,
    publish_targets,
    rabbit_password_hash,
    remote_partners,
)

HK, VN, LA, KH = "CN-YN-BLO-HK", "VN-BCA-C02", "LA-MPS-VTE", "KH-NPA-PP"
ROUTES = (
    OfficeRoute(HK, frozenset({VN, KH})),
    OfficeRoute(VN, frozenset({LA})),
    OfficeRoute(LA, frozenset()),
)
PASSWORDS = {HK: "hk-secret-pw", VN: "vn-secret-pw", LA: "la-secret-pw"}


def counting_rng() -> Callable[[int], bytes]:
    state = {"next": 0}

    def rng(n: int) -> bytes:
        start = state["next"]
        state["next"] += n
        return bytes((start + i) % 256 for i in range(n))

    return rng


def build(**overrides: object) -> dict[str, object]:
    arguments: dict[str, object] = {
        "vhost": "liaison",
        "passwords": PASSWORDS,
        "user_prefix": "",
        "rng": counting_rng(),
    }
    arguments.update(overrides)
    return build_definitions(ROUTES, **arguments)  # type: ignore[arg-type]


# ---------------------------------------------------------------- passwords


def test_the_hash_is_rabbitmqs_documented_sha256_scheme() -> None:
    # RabbitMQ's documented hash of "guest"; its first 4 bytes are the salt.
    documented = "9/1i+jKFRpbTRV1PtRnzFFYibT3cEpP92JeZ8YKGtflf4e/u"
    salt = base64.b64decode(documented)[:4]
    assert rabbit_password_hash("guest", rng=lambda n: salt[:n]) == documented
    assert password_matches("guest", documented)
    assert not password_matches("Guest", documented)


def test_hashes_are_salted_and_verify() -> None:
    first, second = rabbit_password_hash("pw"), rabbit_password_hash("pw")
    assert first != second
    assert password_matches("pw", first)
    assert password_matches("pw", second)
    assert len(base64.b64decode(first)) == 36


@pytest.mark.parametrize("bad", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_hash_matches_nothing(bad: str) -> None:
    assert not password_matches("pw", bad)


def test_new_passwords_carry_256_random_bits() -> None:
    password = new_password(rng=lambda n: b"\xff" * n)
    assert password == base64.urlsafe_b64encode(b"\xff" * 32).rstrip(b"=").decode()
    assert len(password) == 43
    assert len({new_password() for _ in range(20)}) == 20


def test_a_short_rng_or_an_empty_password_is_refused() -> None:
    with pytest.raises(InvalidMessage):
        new_password(rng=lambda n: b"\x00" * (n - 1))
    with pytest.raises(InvalidMessage):
        rabbit_password_hash("pw", rng=lambda n: b"\x00" * (n + 1))
    with pytest.raises(InvalidMessage):
        rabbit_password_hash("")


# ---------------------------------------------------------------- the document


def test_the_document_has_the_keys_rabbitmq_imports() -> None:
    document = build()
    assert set(document) == {"users", "vhosts", "permissions", "topic_permissions",
                             "parameters", "global_parameters", "policies", "queues",
                             "exchanges", "bindings"}  # fmt: skip
    assert document["vhosts"] == [{"name": "liaison"}]
    assert document["parameters"] == document["policies"] == document["global_parameters"] == []


def test_the_document_is_deterministic_given_the_rng() -> None:
    assert json.dumps(build()) == json.dumps(build())
    assert json.dumps(build()) != json.dumps(build(rng=lambda n: b"\x07" * n))


def test_users_carry_only_salted_hashes_of_their_passwords() -> None:
    document = build(user_prefix="t1-")
    text = json.dumps(document)
    users = {user["name"]: user for user in document["users"]}  # type: ignore[attr-defined]
    assert set(users) == {"t1-cn-yn-blo-hk", "t1-vn-bca-c02", "t1-la-mps-vte"}
    for office, password in PASSWORDS.items():
        assert password not in text
        user = users["t1-" + office.lower()]
        assert user["hashing_algorithm"] == HASHING_ALGORITHM
        assert user["tags"] == []  # no administrator, no impersonator
        assert password_matches(password, user["password_hash"])


def test_each_office_gets_exactly_its_permissions() -> None:
    document = build()
    permissions = {p["user"]: p for p in document["permissions"]}  # type: ignore[attr-defined]
    assert permissions["cn-yn-blo-hk"] == {
        "user": "cn-yn-blo-hk",
        "vhost": "liaison",
        "configure": "^$",
        "write": r"^liaison\.envelopes$",
        "read": r"^(inbox\.|dead\.)cn-yn-blo-hk$",
    }
    topics = {p["user"]: p for p in document["topic_permissions"]}  # type: ignore[attr-defined]
    assert topics["cn-yn-blo-hk"] == {
        "user": "cn-yn-blo-hk",
        "vhost": "liaison",
        "exchange": "liaison.envelopes",
        "write": r"^from\.cn-yn-blo-hk\.to\.(kh-npa-pp|vn-bca-c02)$",
        "read": "^$",
    }
    # VN lists LA; HK addresses VN, so VN may answer HK; LA lists nobody but may answer VN.
    assert topics["vn-bca-c02"]["write"] == r"^from\.vn-bca-c02\.to\.(cn-yn-blo-hk|la-mps-vte)$"
    assert topics["la-mps-vte"]["write"] == r"^from\.la-mps-vte\.to\.(vn-bca-c02)$"


def test_inboxes_are_quorum_with_a_delivery_limit_and_at_least_once_dead_letters() -> None:
    document = build(delivery_limit=7)
    queues = {q["name"]: q for q in document["queues"]}  # type: ignore[attr-defined]
    assert set(queues) == {f"{kind}.{o.lower()}" for kind in ("inbox", "dead") for o in PASSWORDS}
    inbox = queues["inbox.vn-bca-c02"]
    assert inbox["durable"] is True
    assert inbox["auto_delete"] is False
    assert inbox["arguments"] == {
        "x-queue-type": "quorum",
        "x-delivery-limit": 7,
        "x-dead-letter-exchange": "liaison.dead-letters",
        "x-dead-letter-routing-key": "vn-bca-c02",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    assert queues["dead.vn-bca-c02"]["arguments"] == {"x-queue-type": "quorum"}


def test_exchanges_and_bindings() -> None:
    document = build()
    exchanges = {e["name"]: e for e in document["exchanges"]}  # type: ignore[attr-defined]
    assert exchanges["liaison.envelopes"]["type"] == "topic"
    assert exchanges["liaison.dead-letters"]["type"] == "direct"
    assert all(e["durable"] and not e["internal"] for e in exchanges.values())
    bindings = {(b["source"], b["routing_key"], b["destination"])
                for b in document["bindings"]}  # type: ignore[attr-defined]  # fmt: skip
    assert bindings == {
        ("liaison.envelopes", "from.*.to.cn-yn-blo-hk", "inbox.cn-yn-blo-hk"),
        ("liaison.envelopes", "from.*.to.vn-bca-c02", "inbox.vn-bca-c02"),
        ("liaison.envelopes", "from.*.to.la-mps-vte", "inbox.la-mps-vte"),
        ("liaison.dead-letters", "cn-yn-blo-hk", "dead.cn-yn-blo-hk"),
        ("liaison.dead-letters", "vn-bca-c02", "dead.vn-bca-c02"),
        ("liaison.dead-letters", "la-mps-vte", "dead.la-mps-vte"),
    }


def test_publish_targets_add_the_way_back_and_remote_partners_are_named() -> None:
    assert publish_targets(ROUTES) == {
        HK: frozenset({VN, KH}),
        VN: frozenset({LA, HK}),
        LA: frozenset({VN}),
    }
    assert remote_partners(ROUTES) == frozenset({KH})


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"passwords": {HK: "x", VN: "y"}}, "passwords"),
        ({"passwords": {HK: "x", VN: "y", LA: ""}}, "passwords"),
        ({"vhost": ""}, "vhost"),
        ({"vhost": "a\nb"}, "vhost"),
        ({"vhost": "v" * 256}, "vhost"),
        ({"user_prefix": "Bad-"}, "user_prefix"),
        ({"delivery_limit": 0}, "delivery_limit"),
        ({"delivery_limit": 1001}, "delivery_limit"),
        ({"delivery_limit": True}, "delivery_limit"),
    ],
)
def test_bad_arguments_are_refused(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        build(**overrides)
    assert caught.value.field == field


def test_bad_routes_are_refused() -> None:
    with pytest.raises(InvalidMessage, match="listed twice"):
        build_definitions([ROUTES[0], ROUTES[0]], vhost="v", passwords=PASSWORDS)
    with pytest.raises(InvalidMessage, match="OfficeRoute"):
        build_definitions([(HK, frozenset())], vhost="v", passwords=PASSWORDS)  # type: ignore[list-item]
    with pytest.raises(InvalidMessage, match="own partner"):
        OfficeRoute(HK, frozenset({HK}))
    with pytest.raises(InvalidMessage) as caught:
        OfficeRoute(HK, frozenset({"vn-bca-c02"}))
    assert caught.value.field == "partners"
    with pytest.raises(InvalidMessage, match="frozenset"):
        OfficeRoute(HK, {VN})  # type: ignore[arg-type]
    with pytest.raises(InvalidMessage):
        OfficeRoute("hk", frozenset())


# ---------------------------------------------------------------- the routes file

TOML = f"""
# Offices this broker serves
[offices.{HK}]
partners = ["{VN}", "{KH}"]

[offices.{VN}]
partners = ["{LA}"]

[offices.{LA}]
partners = []
"""


def test_toml_and_json_routes_read_alike() -> None:
    as_json = json.dumps(
        {"offices": {r.office_id: {"partners": sorted(r.partners)} for r in ROUTES}}
    )
    from_toml = parse_routes(TOML.encode())
    assert from_toml == parse_routes(as_json.encode())
    assert from_toml == tuple(sorted(ROUTES, key=lambda r: r.office_id))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"[offices\n", "not valid TOML"),
        (b'{"offices": ', "not valid JSON"),
        (b"", "exactly one table"),
        (b"[other]\n", "exactly one table"),
        (b"[offices]\n", "at least one office"),
        (f"[offices.{HK}]\n".encode(), "exactly one key"),
        (f"[offices.{HK}]\npartners = ['{VN}']\nnote = 1\n".encode(), "exactly one key"),
        (f"[offices.{HK}]\npartners = '{VN}'\n".encode(), "must be a list"),
        (f"[offices.{HK}]\npartners = [1]\n".encode(), "must be a list"),
        (f"[offices.{HK}]\npartners = ['{VN}', '{VN}']\n".encode(), "twice"),
        (b"[offices.cn-yn]\npartners = []\n", "offices.cn-yn: office_id"),
        (f"[offices.{HK}]\npartners = ['{HK}']\n".encode(), "own partner"),
        (b" " * (1 << 20) + b"x", "larger than"),
    ],
)
def test_a_bad_routes_file_is_an_input_error_saying_where(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_routes(data, name="routes.toml")
    assert type(caught.value) is InputError
    assert message in str(caught.value)
    assert str(caught.value).startswith("routes.toml")

"""Names, routing keys, users, permission regexes: one encoding, no ambiguity, least privilege."""

from __future__ import annotations

import itertools
import re

import pytest

from broker.errors import InvalidMessage
from broker.topology import (
    DEAD_LETTER_EXCHANGE,
    ENVELOPE_EXCHANGE,
    amqp_user,
    dead_letter_queue,
    dead_letter_routing_key,
    inbox_binding_key,
    inbox_queue,
    office_of_user,
    office_permissions,
    office_word,
    parse_routing_key,
    routing_key,
)
from broker.topology.names import check_user_prefix, pcre_escape

HK, VN, LA, TH = "CN-YN-BLO-HK", "VN-BCA-C02", "LA-MPS-VTE", "TH-RTP-CR"
OFFICES = [HK, VN, LA, TH, "CN-YN", "CN-YN-BLO-HKX"]


def allows(pattern: str, subject: str) -> bool:
    """RabbitMQ's check: an unanchored PCRE search (these patterns behave alike in Python)."""
    return re.search(pattern, subject) is not None


def test_the_names_of_an_office() -> None:
    assert office_word(HK) == "cn-yn-blo-hk"
    assert routing_key(HK, VN) == "from.cn-yn-blo-hk.to.vn-bca-c02"
    assert inbox_binding_key(VN) == "from.*.to.vn-bca-c02"
    assert inbox_queue(VN) == "inbox.vn-bca-c02"
    assert dead_letter_queue(VN) == "dead.vn-bca-c02"
    assert dead_letter_routing_key(VN) == "vn-bca-c02"
    assert amqp_user(HK) == "cn-yn-blo-hk"
    assert amqp_user(HK, user_prefix="t1a2b-") == "t1a2b-cn-yn-blo-hk"
    assert ENVELOPE_EXCHANGE == "liaison.envelopes"
    assert DEAD_LETTER_EXCHANGE == "liaison.dead-letters"


@pytest.mark.parametrize(
    "bad", ["cn-yn-blo-hk", "CN", "CN.YN-BLO", "CN-*", "CN-#", "CN-YN\n", "", " CN-YN", 7]
)
def test_an_office_id_that_is_not_one_is_refused(bad: object) -> None:
    with pytest.raises(InvalidMessage) as caught:
        office_word(bad)  # type: ignore[arg-type]
    assert caught.value.field == "office_id"
    with pytest.raises(InvalidMessage):
        routing_key(HK, bad)  # type: ignore[arg-type]


def test_words_are_unambiguous_and_routing_keys_parse_back() -> None:
    words = {office_word(office) for office in OFFICES}
    assert len(words) == len(OFFICES)
    for sender, recipient in itertools.permutations(OFFICES, 2):
        key = routing_key(sender, recipient)
        assert key.count(".") == 3  # four topic words, whatever the ids hold
        assert parse_routing_key(key) == (sender, recipient)


@pytest.mark.parametrize(
    "key",
    ["from.cn-yn-blo-hk.to.vn-bca-c02.x", "to.vn-bca-c02", "from.cn.to.vn-bca-c02",
     "from.CN-YN-BLO-HK.to.vn-bca-c02", "from.*.to.vn-bca-c02", "from.cn-yn-blo-hk.to.",
     "from.cn-yn-blo-hk.to.vn-bca-c02\n", ""],
)  # fmt: skip
def test_a_routing_key_that_is_not_ours_parses_to_none(key: str) -> None:
    assert parse_routing_key(key) is None


def test_a_user_name_gives_back_its_office() -> None:
    for office in OFFICES:
        assert office_of_user(amqp_user(office)) == office
        assert office_of_user(amqp_user(office, user_prefix="t9-"), user_prefix="t9-") == office
    assert office_of_user("t9-cn-yn-blo-hk") is None
    assert office_of_user("cn-yn-blo-hk", user_prefix="t9-") is None
    assert office_of_user("CN-YN-BLO-HK") is None  # upper case is not our encoding
    assert office_of_user("guest") is None


@pytest.mark.parametrize("bad", ["T1-", "-t", "t 1", "a" * 33, "t*", "t\n", None])
def test_a_bad_user_prefix_is_refused(bad: object) -> None:
    with pytest.raises(InvalidMessage) as caught:
        check_user_prefix(bad)  # type: ignore[arg-type]
    assert caught.value.field == "user_prefix"
    assert check_user_prefix("t1a2b3c4-") == "t1a2b3c4-"
    assert check_user_prefix("") == ""


def test_pcre_escape_quotes_every_special_and_keeps_dashes() -> None:
    assert pcre_escape("liaison.envelopes") == r"liaison\.envelopes"
    assert pcre_escape("a-b") == "a-b"
    specials = "\\^$.|?*+()[]{}"
    assert re.fullmatch(pcre_escape(specials), specials)


def test_an_office_permissions_name_everything_explicitly() -> None:
    allowed = office_permissions(HK, {VN, LA, HK})
    assert allowed.configure == "^$"
    assert allowed.write == r"^liaison\.envelopes$"
    assert allowed.read == r"^(inbox\.|dead\.)cn-yn-blo-hk$"
    assert allowed.topic_write == r"^from\.cn-yn-blo-hk\.to\.(la-mps-vte|vn-bca-c02)$"
    assert allowed.topic_read == "^$"
    assert office_permissions(TH, set()).topic_write == "^$"


@pytest.mark.parametrize("office", OFFICES)
def test_permissions_allow_exactly_what_an_office_needs(office: str) -> None:
    recipients = {o for o in OFFICES if o != office and len(o) % 2 == len(office) % 2}
    allowed = office_permissions(office, recipients)
    for resource in ["amq.default", "amq.topic", "evil", DEAD_LETTER_EXCHANGE, "inbox.x"]:
        assert not allows(allowed.configure, resource)
        assert not allows(allowed.write, resource)
    assert allows(allowed.write, ENVELOPE_EXCHANGE)
    assert not allows(allowed.write, ENVELOPE_EXCHANGE + "x")
    for other in OFFICES:
        mine = other == office
        assert allows(allowed.read, inbox_queue(other)) is mine
        assert allows(allowed.read, dead_letter_queue(other)) is mine
        for sender in OFFICES:
            expected = sender == office and other in recipients
            assert allows(allowed.topic_write, routing_key(sender, other)) is expected
        assert not allows(allowed.topic_write, routing_key(office, other) + ".x")
        assert not allows(allowed.topic_write, "x" + routing_key(office, other))
        assert not allows(allowed.topic_read, routing_key(other, office))
    assert not allows(allowed.read, ENVELOPE_EXCHANGE)

"""Which message an envelope kind carries; a peer's bad payload is the peer's fault."""

from pathlib import Path

import pytest

from broker.envelope import MessageKind
from broker.errors import InputError, PeerError, RejectReason
from broker.messages import decode_payload, kind_of, message_from_json
from broker.model import CaseEnquiry, CaseResponse

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_kinds_are_inferred_from_json_and_round_trip_through_payloads() -> None:
    for name, cls, kind in [
        ("missing-child-alert.json", CaseEnquiry, MessageKind.ENQUIRY),
        ("case-response.json", CaseResponse, MessageKind.RESPONSE),
    ]:
        message = message_from_json((EXAMPLES / name).read_text(encoding="utf-8"))
        assert isinstance(message, cls)
        assert kind_of(message) is kind
        assert decode_payload(kind, message.to_bytes()) == message


def test_a_payload_of_the_wrong_kind_is_a_malformed_peer_message() -> None:
    text = (EXAMPLES / "missing-child-alert.json").read_text(encoding="utf-8")
    enquiry = message_from_json(text)
    with pytest.raises(PeerError) as caught:
        decode_payload(MessageKind.RECEIPT, enquiry.to_bytes())
    assert caught.value.reason is RejectReason.MALFORMED
    with pytest.raises(PeerError) as checkpoint:
        decode_payload(MessageKind.CHECKPOINT, b"")
    assert checkpoint.value.reason is RejectReason.MALFORMED


@pytest.mark.parametrize("text", ["[1]", "{", "{}", '{"enquiry_type": 1, "response_id": "x"}'])
def test_unrecognisable_json_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError):
        message_from_json(text)


def test_camel_case_json_is_recognised() -> None:
    with pytest.raises(InputError) as caught:
        message_from_json('{"enquiryType": "ENQUIRY_TYPE_IDENTITY_CHECK"}')
    assert "cannot tell" not in str(caught.value)


def test_kind_of_refuses_other_values() -> None:
    with pytest.raises(InputError):
        kind_of("not a message")  # type: ignore[arg-type]

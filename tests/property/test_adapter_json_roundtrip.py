"""Properties of the json adapter: canonical -> partner JSON -> canonical is the identity, with no
losses, and random bytes only ever raise AdapterInputError."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import AdapterInputError
from adapters.json_format import CODEC
from broker.messages import Message
from tests.property.test_model_roundtrip import messages


@settings(max_examples=80, deadline=None)
@given(messages)
def test_encode_then_decode_gives_the_same_message_and_no_losses(message: Message) -> None:
    encoded = CODEC.encode(message)
    assert encoded.losses == ()
    decoded = CODEC.decode(encoded.data)
    assert decoded.message == message
    assert decoded.losses == ()
    assert decoded.warnings == ()


@settings(max_examples=40, deadline=None)
@given(messages)
def test_compact_and_pretty_forms_decode_alike(message: Message) -> None:
    compact = CODEC.encode(message, variant="compact").data
    assert b"\n" not in compact
    assert CODEC.decode(compact).message == CODEC.decode(CODEC.encode(message).data).message


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_random_bytes_only_ever_raise_adapter_input_error(data: bytes) -> None:
    with contextlib.suppress(AdapterInputError):
        CODEC.decode(data)

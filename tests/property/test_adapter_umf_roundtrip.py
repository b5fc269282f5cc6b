"""Properties of the umf adapter: canonical -> UMF-inspired XML -> canonical is the identity, with
no losses; what it writes is valid against the XSD; random bytes only ever raise
AdapterInputError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree  # type: ignore[import-untyped]

from adapters.base import AdapterInputError
from adapters.umf import CODEC, NS
from adapters.umf.safe_xml import schema
from broker.errors import InputError
from broker.messages import Message
from tests.property.test_model_roundtrip import messages

_NOT_IN_XML = ("\ufffe", "\uffff")  # the only characters the model allows and XML 1.0 does not


@settings(max_examples=80, deadline=None)
@given(messages)
def test_encode_then_decode_gives_the_same_message_and_no_losses(message: Message) -> None:
    if any(char in message.to_json() for char in _NOT_IN_XML):
        with pytest.raises(InputError, match=r"XML 1\.0 cannot carry"):
            CODEC.encode(message)
        return
    encoded = CODEC.encode(message)
    assert encoded.losses == ()
    decoded = CODEC.decode(encoded.data)
    assert decoded.message == message
    assert decoded.losses == ()


@settings(max_examples=40, deadline=None)
@given(messages)
def test_what_the_encoder_writes_is_valid_against_the_schema(message: Message) -> None:
    with contextlib.suppress(InputError):
        data = CODEC.encode(message).data
        assert schema().validate(etree.fromstring(data))


def _inside_a_message(text: str) -> bytes:
    return f'<Message xmlns="{NS}" version="1">{text}'.encode()


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=200)
    | st.text(max_size=200).map(str.encode)
    | st.text(max_size=200).map(_inside_a_message)
)
def test_random_bytes_only_ever_raise_adapter_input_error(data: bytes) -> None:
    with contextlib.suppress(AdapterInputError):
        CODEC.decode(data)

"""The liaison-v1 key wrap against RFC 9180 and against cryptography's HPKE, both ways."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke as pyca_hpke
from cryptography.hazmat.primitives.asymmetric import x25519

from broker.envelope import Suite, hpke
from broker.envelope.pae import pae, wrap_info
from broker.envelope.suite import unwrap_cek, wrap_cek
from broker.errors import InputError, PeerError, RejectReason
from broker.keys.model import OfficeKeys

RFC = json.loads(
    (
        Path(__file__).resolve().parents[1]
        / "vectors"
        / "envelope"
        / "rfc9180-x25519-chacha20.json"
    ).read_text(encoding="utf-8")
)
PYCA_V1 = pyca_hpke.Suite(
    pyca_hpke.KEM.X25519, pyca_hpke.KDF.HKDF_SHA256, pyca_hpke.AEAD.CHACHA20_POLY1305
)


def h(name: str) -> bytes:
    return bytes.fromhex(RFC[name])


def test_rfc9180_vector_is_the_suite_we_implement() -> None:
    assert (RFC["mode"], RFC["kem_id"], RFC["kdf_id"], RFC["aead_id"]) == (
        hpke.MODE_BASE,
        hpke.KEM_ID,
        hpke.KDF_ID,
        hpke.AEAD_ID,
    )


def test_rfc9180_derive_key_pair() -> None:
    ephemeral = hpke.derive_key_pair(h("ikmE"))
    assert ephemeral.private_bytes_raw() == h("skEm")
    assert ephemeral.public_key().public_bytes_raw() == h("pkEm")
    receiver = hpke.derive_key_pair(h("ikmR"))
    assert receiver.private_bytes_raw() == h("skRm")
    assert receiver.public_key().public_bytes_raw() == h("pkRm")


def test_rfc9180_seal_reproduces_every_value() -> None:
    enc, ciphertext, secrets = hpke.seal_base_traced(
        h("pkRm"), h("info"), h("aad"), h("pt"), h("ikmE")
    )
    assert enc == h("enc")
    assert secrets.shared_secret == h("shared_secret")
    assert secrets.key == h("key")
    assert secrets.base_nonce == h("base_nonce")
    assert ciphertext == h("ct")
    assert hpke.seal_base(h("pkRm"), h("info"), h("aad"), h("pt"), h("ikmE")) == enc + ciphertext


def test_sealed_secrets_stay_out_of_repr() -> None:
    _, _, secrets = hpke.seal_base_traced(h("pkRm"), h("info"), b"", h("pt"), h("ikmE"))
    assert RFC["key"] not in repr(secrets)
    assert secrets.key.hex() not in repr(secrets)


@pytest.mark.parametrize("size", [0, 1, 32, 1000])
def test_our_seal_opens_with_cryptography(size: int) -> None:
    receiver = x25519.X25519PrivateKey.generate()
    plaintext, info = os.urandom(size), os.urandom(40)
    sealed = hpke.seal_base(
        receiver.public_key().public_bytes_raw(), info, b"", plaintext, os.urandom(32)
    )
    assert PYCA_V1.decrypt(sealed, receiver, info=info) == plaintext
    with pytest.raises(InvalidTag):
        PYCA_V1.decrypt(sealed, receiver, info=info + b"x")


def test_cryptography_seal_opens_with_our_unwrap() -> None:
    office = OfficeKeys.generate("TH-CMI-LO-01")
    cek, info = os.urandom(32), wrap_info("liaison-v1", os.urandom(16), "A", office.office_id)
    sealed = PYCA_V1.encrypt(cek, office.encryption.public_key(), info=info)
    assert unwrap_cek(Suite.V1, office, sealed[:32], sealed[32:], info) == cek


def test_our_wrap_opens_with_cryptography_and_binds_info() -> None:
    office = OfficeKeys.generate("TH-CMI-LO-01")
    cek, info = os.urandom(32), wrap_info("liaison-v1", os.urandom(16), "A", office.office_id)
    enc, wrapped = wrap_cek(Suite.V1, cek, office.public(), info, os.urandom)
    assert len(enc) == 32
    assert len(wrapped) == 48
    assert PYCA_V1.decrypt(enc + wrapped, office.encryption, info=info) == cek
    other_info = wrap_info("liaison-v1", os.urandom(16), "A", office.office_id)
    with pytest.raises(PeerError) as caught:
        unwrap_cek(Suite.V1, office, enc, wrapped, other_info)
    assert caught.value.reason is RejectReason.DECRYPTION_FAILED


def test_pq_wrap_round_trips_and_binds_info() -> None:
    office = OfficeKeys.generate("MM-MDY-LO-01", pq=True)
    cek = os.urandom(32)
    info = wrap_info("liaison-v1-pq", os.urandom(16), "A", office.office_id)
    enc, wrapped = wrap_cek(Suite.V1_PQ, cek, office.public(), info, os.urandom)
    assert len(enc) == 1120
    assert unwrap_cek(Suite.V1_PQ, office, enc, wrapped, info) == cek
    with pytest.raises(PeerError):
        unwrap_cek(Suite.V1_PQ, office, enc, wrapped, info + b"x")


def test_wrap_to_a_low_order_point_is_the_callers_error() -> None:
    office = OfficeKeys.generate("TH-CMI-LO-01").public()
    broken = replace(office, encryption=bytes(32))  # the all-zero u-coordinate: low order
    with pytest.raises(InputError):
        wrap_cek(Suite.V1, os.urandom(32), broken, b"info", os.urandom)


def test_pae_layout_is_count_then_length_prefixed_parts() -> None:
    assert pae() == bytes(8)
    assert pae(b"", b"ab") == ((2).to_bytes(8, "big") + bytes(8) + (2).to_bytes(8, "big") + b"ab")
    assert pae(b"a", b"b") != pae(b"ab") != pae(b"ab", b"")


def test_wrap_info_layout() -> None:
    info = wrap_info("liaison-v1", b"\x01" * 16, "CN-A", "TH-B")
    parts = [b"liaison-v1 cek wrap", b"liaison-v1", b"\x01" * 16, b"CN-A", b"TH-B"]
    expected = (5).to_bytes(8, "big") + b"".join(len(p).to_bytes(8, "big") + p for p in parts)
    assert info == expected


def test_pq_wrap_to_an_office_without_a_hybrid_key_is_the_callers_error() -> None:
    office = OfficeKeys.generate("TH-CMI-LO-01").public()
    with pytest.raises(InputError):
        wrap_cek(Suite.V1_PQ, os.urandom(32), office, b"info", os.urandom)

"""The fast paths of the envelope: strict Ed25519 on both backends, our HPKE Open, key caches."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import nacl.bindings
import nacl.exceptions
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from broker.envelope import MessageKind, Recipient, Suite, hpke, open_envelope, seal, signing
from broker.envelope.header import encode_envelope
from broker.errors import PeerError, RejectReason
from broker.keys.model import OfficeKeys
from broker.pb import envelope_pb2 as pb
from tests.vectors.generate_envelope import DIRECTORY, KEYS, NOW, SENDER, TH

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "envelope"
RFC = json.loads((VECTORS / "rfc9180-x25519-chacha20.json").read_text(encoding="utf-8"))

# ------------------------------------------------------ a little Ed25519 arithmetic, for crafting

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, -1, P)) % P
Point = tuple[int, int]


def _add(a: Point, b: Point) -> Point:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return (
        (x1 * y2 + x2 * y1) * pow(1 + t, -1, P) % P,
        (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P,
    )


def _mul(k: int, point: Point) -> Point:
    result = (0, 1)
    while k:
        if k & 1:
            result = _add(result, point)
        point, k = _add(point, point), k >> 1
    return result


def _x_of(y: int) -> int | None:
    """The even x of the curve point with this y, if there is one (RFC 8032, section 5.1.3)."""
    x2 = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    if (x * x - x2) % P:
        return None
    return P - x if x & 1 else x


def _enc(point: Point) -> bytes:
    return (point[1] | ((point[0] & 1) << 255)).to_bytes(32, "little")


def _h(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little") % L


BASE = (_x_of(4 * pow(5, -1, P) % P) or 0, 4 * pow(5, -1, P) % P)


def _torsion() -> set[Point]:
    """The eight points of small order: L times a curve point lands among them."""
    y = 2
    while True:
        x = _x_of(y)
        if x is not None:
            t = _mul(L, (x, y))
            points = {_mul(k, t) for k in range(8)}
            if len(points) == 8:
                return points
        y += 1


TORSION = _torsion()
LARGE = signing.SODIUM_VERIFY_MAX + 1  # a message length that takes the OpenSSL path


def _openssl_accepts(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _libsodium_accepts(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        nacl.bindings.crypto_sign_open(signature + message, public)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


# ------------------------------------------------------------------------------- Ed25519


def test_the_small_order_list_is_the_torsion_subgroup() -> None:
    assert {y for _, y in TORSION} | {P, P + 1} == signing._SMALL_ORDER_Y


@pytest.mark.parametrize("size", [0, 1, signing.SODIUM_SIGN_MAX, signing.SODIUM_SIGN_MAX + 1])
def test_both_signers_give_the_same_bytes(size: int) -> None:
    keys = OfficeKeys.generate("A")
    message = os.urandom(size)
    assert signing.sign(keys, message) == keys.signing.sign(message)


@pytest.mark.parametrize("size", [0, 2048, signing.SODIUM_VERIFY_MAX, LARGE])
def test_honest_signatures_verify_and_tampering_fails_on_both_paths(size: int) -> None:
    keys = OfficeKeys.generate("A")
    message, public = os.urandom(size), keys.public().signing
    signature = signing.sign(keys, message)
    assert signing.verify(public, signature, message)
    assert not signing.verify(public, signature, message + b"x")
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not signing.verify(public, flipped, message)
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + L).to_bytes(32, "little")  # same point, S >= L
    assert not signing.verify(public, malleated, message)
    assert not signing.verify(public[:31], signature, message)
    assert not signing.verify(public, signature[:63], message)


@pytest.mark.parametrize("size", [100, LARGE])
def test_a_small_order_key_forges_for_openssl_but_not_for_us(size: int) -> None:
    message = os.urandom(size)
    identity = _enc((0, 1))
    s = 12345
    forged = _enc(_mul(s, BASE)) + s.to_bytes(32, "little")  # [S]B = R + [k]identity
    assert _openssl_accepts(identity, forged, message)
    assert not _libsodium_accepts(identity, forged, message)
    assert not signing.verify(identity, forged, message)


@pytest.mark.parametrize("size", [100, LARGE])
def test_a_small_order_r_is_refused(size: int) -> None:
    a = 0x1234567 * 8 + 2**254
    public = _enc(_mul(a, BASE))
    message = os.urandom(size)
    r = _enc((0, 1))
    forged = r + (_h(r, public, message) * a % L).to_bytes(32, "little")
    assert _openssl_accepts(public, forged, message)
    assert not signing.verify(public, forged, message)


def test_a_non_canonical_key_is_refused() -> None:
    for y in range(2, 19):
        if _x_of(y) is not None:
            break
    non_canonical = (P + y).to_bytes(32, "little")
    assert not signing.verify(non_canonical, os.urandom(64), b"m")


def test_mixed_order_keys_get_the_same_verdict_on_both_paths() -> None:
    verdicts = set()
    for i in range(16):
        a = (i + 3) * 8 + 2**254
        prefix = bytes([i]) * 32
        torsion = sorted(TORSION)[i % 8]
        public = _enc(_add(_mul(a, BASE), torsion))
        for size in (10, LARGE):
            message = bytes(size)
            r = _h(prefix, message)
            r_enc = _enc(_mul(r, BASE))
            signature = r_enc + ((r + _h(r_enc, public, message) * a) % L).to_bytes(32, "little")
            ours = signing.verify(public, signature, message)
            assert ours == _libsodium_accepts(public, signature, message)
            verdicts.add(ours)
    assert verdicts == {True, False}  # some k are multiples of the torsion's order, some not


def test_a_large_envelope_opens_and_its_tampering_is_a_bad_signature() -> None:
    payload = os.urandom(LARGE)
    data = seal(
        payload,
        kind=MessageKind.ENQUIRY,
        sender=KEYS[SENDER],
        recipients=[Recipient(TH, Suite.V1, KEYS[TH].public())],
        directory_version=1,
        now=NOW,
    )
    assert open_envelope(data, KEYS[TH], DIRECTORY, now=NOW).payload == payload
    outer = pb.Envelope()
    outer.ParseFromString(data)
    ciphertext = bytes([outer.ciphertext[0] ^ 1]) + outer.ciphertext[1:]
    with pytest.raises(PeerError) as caught:
        open_envelope(
            encode_envelope(outer.header, ciphertext, outer.signature),
            KEYS[TH],
            DIRECTORY,
            now=NOW,
        )
    assert caught.value.reason is RejectReason.BAD_SIGNATURE


# ---------------------------------------------------------------------------------- HPKE


def test_our_open_opens_the_rfc9180_vector() -> None:
    receiver = hpke.derive_key_pair(bytes.fromhex(RFC["ikmR"]))
    opened = hpke.open_base(
        receiver,
        bytes.fromhex(RFC["pkRm"]),
        bytes.fromhex(RFC["enc"]),
        bytes.fromhex(RFC["info"]),
        bytes.fromhex(RFC["ct"]),
        aad=bytes.fromhex(RFC["aad"]),
    )
    assert opened == bytes.fromhex(RFC["pt"])


def test_our_open_refuses_a_low_order_enc() -> None:
    receiver = OfficeKeys.generate("A")
    with pytest.raises(ValueError, match="shared key"):
        hpke.open_base(receiver.encryption, receiver.public().encryption, bytes(32), b"", bytes(48))


def test_x25519_refuses_wrong_lengths_before_reaching_c() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        hpke.seal_base(bytes(31), b"", b"", b"pt", os.urandom(32))


# ---------------------------------------------------------------------------- key caches


def test_office_keys_caches_are_invisible() -> None:
    keys = OfficeKeys.generate("A")
    public = keys.public()
    assert keys.public() is public
    assert keys.signing_pair() == keys.signing.private_bytes_raw() + public.signing
    assert keys.signing_pair().hex() not in repr(keys)
    assert keys.signing.private_bytes_raw().hex()[:16] not in repr(keys)
    other = dataclasses.replace(keys, encryption=OfficeKeys.generate("A").encryption)
    assert other.public().encryption != public.encryption  # a new value, a new cache
    assert other.public().signing == public.signing

"""The two suites and the per-recipient key wrap: the CEK sealed with HPKE (RFC 9180).

``liaison-v1``     DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305; our reproducible
                   Seal and our Open (``hpke.py``), checked against cryptography's both ways.
``liaison-v1-pq``  ML-KEM-768 + X25519 hybrid KEM, HKDF-SHA256, ChaCha20-Poly1305; cryptography's
                   Seal and Open (its ephemeral randomness is internal, so not reproducible).

Both use base mode, single-shot, with empty associated data: the binding to message, sender
and recipient is in ``info`` (``pae.wrap_info``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke as pyca_hpke

from broker.envelope import hpke, key_ids
from broker.envelope.labels import HPKE_IKM_LEN
from broker.errors import InputError, PeerError, RejectReason
from broker.keys.model import OfficeKeys, OfficePublicKeys

Rng = Callable[[int], bytes]


class Suite(enum.StrEnum):
    """The algorithm suite of an envelope, as its header names it."""

    V1 = "liaison-v1"
    V1_PQ = "liaison-v1-pq"


# liaison-v1-pq is cryptography's HPKE throughout; liaison-v1 is hpke.py.
_PYCA_PQ = pyca_hpke.Suite(
    pyca_hpke.KEM.MLKEM768_X25519, pyca_hpke.KDF.HKDF_SHA256, pyca_hpke.AEAD.CHACHA20_POLY1305
)

ENC_LEN = {
    Suite.V1: pyca_hpke.KEM.X25519.enc_length(),  # 32
    Suite.V1_PQ: pyca_hpke.KEM.MLKEM768_X25519.enc_length(),  # 1120: ML-KEM ct 1088 + X25519 32
}


def random_bytes(rng: Rng, n: int) -> bytes:
    """``rng(n)``, checked: a caller's rng that returns the wrong length is refused."""
    drawn = rng(n)
    if not isinstance(drawn, bytes) or len(drawn) != n:
        raise InputError(f"rng returned something other than {n} bytes")
    return drawn


def encryption_key_id(suite: Suite, public: OfficePublicKeys) -> bytes | None:
    """Id of the key a CEK is wrapped to under ``suite``; None if the office has no such key."""
    if suite is Suite.V1:
        return key_ids.encryption_key_id(public)
    return key_ids.hybrid_key_id(public)


def own_key_id(suite: Suite, keys: OfficeKeys) -> bytes | None:
    """Id of our own decryption key for ``suite``; None if we hold none."""
    if suite is Suite.V1_PQ and not keys.has_hybrid:
        return None
    return encryption_key_id(suite, keys.public())


def wrap_cek(
    suite: Suite, cek: bytes, recipient: OfficePublicKeys, info: bytes, rng: Rng
) -> tuple[bytes, bytes]:
    """HPKE-seal ``cek`` to ``recipient``: (enc, wrapped_cek). InputError on a bad public key."""
    try:
        if suite is Suite.V1:
            ikm_e = random_bytes(rng, HPKE_IKM_LEN)
            sealed = hpke.seal_base(recipient.encryption, info, b"", cek, ikm_e)
        else:
            if recipient.hybrid is None:
                raise InputError(f"office {recipient.office_id} has no ML-KEM-768 + X25519 key")
            sealed = _PYCA_PQ.encrypt(cek, recipient.hybrid.to_hpke(), info=info)
    except ValueError as exc:
        # A malformed key or an X25519 low-order point (hpke.py and cryptography alike).
        raise InputError(f"the encryption key of office {recipient.office_id} is invalid") from exc
    split = ENC_LEN[suite]
    return sealed[:split], sealed[split:]


def unwrap_cek(suite: Suite, keys: OfficeKeys, enc: bytes, wrapped: bytes, info: bytes) -> bytes:
    """HPKE-open a wrapped CEK with our private key; PeerError(decryption-failed) if it fails."""
    try:
        if suite is Suite.V1:
            public = keys.public().encryption
            return hpke.open_base(keys.encryption, public, enc, info, wrapped)
        return _PYCA_PQ.decrypt(enc + wrapped, keys.hybrid_private(), info=info)
    except (InvalidTag, ValueError) as exc:
        raise PeerError(
            RejectReason.DECRYPTION_FAILED, "the wrapped content key does not open"
        ) from exc

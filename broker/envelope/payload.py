"""The payload AEAD (XChaCha20-Poly1305 under the CEK) and the key commitment.

XChaCha20-Poly1305, like every Poly1305 AEAD, is not key-committing: a sender can craft one
ciphertext that opens under two keys to two plaintexts, and give each recipient a different
key. The commitment ``HMAC-SHA256(CEK, "liaison-v1 key commitment" || message_id)`` sits in the
signed header, so every recipient and an auditor who is shown the CEK agree on one key and
therefore on one plaintext.
"""

from __future__ import annotations

import hashlib
import hmac

import nacl.bindings
import nacl.exceptions

from broker.envelope.labels import CEK_LEN, COMMITMENT_LABEL
from broker.errors import PeerError, RejectReason


def commitment(cek: bytes, message_id: bytes) -> bytes:
    """The key commitment of ``cek`` for one message."""
    return hmac.digest(cek, COMMITMENT_LABEL + message_id, hashlib.sha256)


def check_commitment(cek: bytes, message_id: bytes, expected: bytes) -> None:
    """PeerError(commitment-mismatch) unless ``cek`` is the key the header commits to."""
    # The length check matters: HMAC zero-pads its key, so cek || 0x00 has the same HMAC.
    if len(cek) != CEK_LEN or not hmac.compare_digest(commitment(cek, message_id), expected):
        raise PeerError(
            RejectReason.COMMITMENT_MISMATCH, "the content key is not the committed one"
        )


def encrypt_payload(cek: bytes, nonce: bytes, payload: bytes, header: bytes) -> bytes:
    """XChaCha20-Poly1305 with the exact header bytes as associated data."""
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(payload, header, nonce, cek)
    return bytes(sealed)


def decrypt_payload(cek: bytes, nonce: bytes, ciphertext: bytes, header: bytes) -> bytes:
    """The payload; PeerError(decryption-failed) if the ciphertext does not authenticate."""
    try:
        opened = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext, header, nonce, cek
        )
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        # CryptoError: bad tag. ValueError/TypeError: lengths, which parsing has already
        # checked; caught anyway so that nothing but PeerError can leave the opener.
        raise PeerError(RejectReason.DECRYPTION_FAILED, "the payload does not decrypt") from exc
    return bytes(opened)

"""Administrators' signatures over a directory's exact content bytes. Pure.

The signed input is the pre-authentication encoding (``broker.envelope.pae``, docs/envelope.md
"PAE") of a domain label and the content bytes::

    signed_input = PAE("liaison-v1 directory", content)
                 = u64be(2) || u64be(20) || "liaison-v1 directory" || u64be(len(content)) || content

and each signature is Ed25519 (RFC 8032) over it. The label keeps a directory signature from
ever being mistaken for an envelope signature by the same key, and vice versa.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.directory.model import Root
from broker.directory.wire import Signature, decode_signed, encode_signed
from broker.envelope.pae import pae
from broker.errors import InputError
from broker.keys.model import KeyAlg, key_id

DIRECTORY_LABEL = b"liaison-v1 directory"


def signed_input(content: bytes) -> bytes:
    """The bytes every administrator's Ed25519 key signs."""
    return pae(DIRECTORY_LABEL, content)


def sign_content(content: bytes, private_key: ed25519.Ed25519PrivateKey) -> Signature:
    public = private_key.public_key().public_bytes_raw()
    return Signature(key_id(KeyAlg.ED25519, public), private_key.sign(signed_input(content)))


def add_signature(signed: bytes, private_key: ed25519.Ed25519PrivateKey) -> bytes:
    """``signed`` (a SignedDirectory, possibly with no signature yet) with one more signature by
    ``private_key``; the content bytes are carried over untouched. InputError if this key has
    signed already."""
    parts = decode_signed(signed)
    new = sign_content(parts.content, private_key)
    if any(existing.key_id == new.key_id for existing in parts.signatures):
        raise InputError(f"the directory is already signed by key {new.key_id.hex()}")
    return encode_signed(parts.content, (*parts.signatures, new))


@dataclass(frozen=True, slots=True)
class Tally:
    """The signatures of a directory counted against one root."""

    valid: frozenset[bytes]  # ids of root keys whose signature verifies
    invalid: frozenset[bytes]  # ids of root keys whose signature does not verify
    threshold: int

    @property
    def met(self) -> bool:
        return len(self.valid) >= self.threshold


def tally(content: bytes, signatures: Iterable[Signature], root: Root) -> Tally:
    """Count the signatures made by ``root``'s keys. A key counts once however often it signs;
    signatures by keys outside ``root`` are not counted (they may belong to another root)."""
    message = signed_input(content)
    valid: set[bytes] = set()
    invalid: set[bytes] = set()
    for item in signatures:
        admin = root.key(item.key_id)
        if admin is None:
            continue
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(admin.public_key).verify(
                item.signature, message
            )
        except (InvalidSignature, ValueError):
            invalid.add(item.key_id)
        else:
            valid.add(item.key_id)
    return Tally(frozenset(valid), frozenset(invalid), root.threshold)

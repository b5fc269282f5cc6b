"""The envelope signature: Ed25519 (RFC 8032, pure), strict, through the faster of two backends.

Two libraries compute Ed25519 here, and neither is fastest everywhere (docs/performance.md):
libsodium (PyNaCl) has the faster curve arithmetic, OpenSSL (cryptography) the faster SHA-512.
So short messages (every envelope without attachments) go to libsodium and long ones to
OpenSSL. Neither choice changes a result:

* signing is deterministic (RFC 8032), so both backends give the very same 64 bytes;
* verification applies one rule, ours, before either backend runs (``_strictly_formed``):
  ``S < L`` (as RFC 8032 requires), and neither the public key ``A`` nor ``R`` of small order,
  and ``A`` canonically encoded (docs/envelope.md, section 10). Both backends then check the
  same cofactorless equation ``[S]B = R + [k]A`` by comparing encodings. libsodium applies
  those very checks itself; OpenSSL applies only ``S < L``, hence the explicit rule.

A signature made as RFC 8032 says never breaks the rule, so honest envelopes verify exactly as
before; only crafted ones fail, and fail the same way whatever their length.
"""

from __future__ import annotations

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from broker.envelope.labels import SIGNATURE_LEN
from broker.keys.model import OfficeKeys

PUBLIC_KEY_LEN = 32

# Where each backend stops being the faster one, measured (docs/performance.md): the hashing
# grows with the message, the point arithmetic does not.
SODIUM_SIGN_MAX = 10 * 1024
SODIUM_VERIFY_MAX = 64 * 1024

_P = 2**255 - 19  # the field prime
_L = 2**252 + 27742317777372353535851937790883648493  # the order of the base point
_Y_MASK = (1 << 255) - 1  # an encoding without its sign bit: the y-coordinate
# y of the points of order 8 (the other small-order points have y = 0, 1 or p - 1).
_Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
# Every y whose encoding is a point of small order: the eight torsion points, plus p and p + 1,
# the non-canonical encodings of y = 0 and y = 1 (libsodium's list, ge25519_has_small_order).
_SMALL_ORDER_Y = frozenset({0, 1, _Y8, _P - _Y8, _P - 1, _P, _P + 1})


def sign(keys: OfficeKeys, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``message`` by ``keys``' signing key."""
    if len(message) > SODIUM_SIGN_MAX:
        return keys.signing.sign(message)
    # signing_pair() is seed || the public key derived from that very seed: libsodium hashes
    # the public half into the signature, so the two must belong together (they do).
    return nacl.bindings.crypto_sign(message, keys.signing_pair())[:SIGNATURE_LEN]


def _strictly_formed(public_key: bytes, signature: bytes) -> bool:
    """The rule of docs/envelope.md, section 10, on the public parts of a verification."""
    a_y = int.from_bytes(public_key, "little") & _Y_MASK
    r_y = int.from_bytes(signature[:32], "little") & _Y_MASK
    s = int.from_bytes(signature[32:], "little")
    return s < _L and r_y not in _SMALL_ORDER_Y and a_y < _P and a_y not in _SMALL_ORDER_Y


def verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``message`` under our strict rule."""
    # The lengths also protect libsodium: PyNaCl hands the buffers to C unchecked.
    if len(public_key) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    if not _strictly_formed(public_key, signature):
        return False
    if len(message) > SODIUM_VERIFY_MAX:
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True
    try:
        # PyNaCl does not expose the detached form; the combined one copies the message once
        # more, which costs little next to the hash over it.
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except nacl.exceptions.BadSignatureError:
        return False
    return True

"""Signed notes: Go's golang.org/x/mod/sumdb/note test vectors, strict parsing, opening rules."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.errors import IntegrityError
from broker.ledger import (
    Ed25519Signer,
    Ed25519Verifier,
    Note,
    NoteSignature,
    key_id,
    open_note,
    parse_note,
    parse_verifier_key,
    sign_note,
)
from broker.ledger.note import MAX_NOTE_BYTES, check_key_name

# From golang.org/x/mod/sumdb/note (note.go's package documentation and note_test.go), BSD-3-Clause,
# Copyright 2019 The Go Authors. PeterNeumann's private key is Go's published test key.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngo"
    "tpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWL"
    "ox33WWd1RvMc+QQ=\n"
)
PETER = parse_verifier_key(PETER_VKEY)
ENOCH = parse_verifier_key(ENOCH_VKEY)


def peter_signer() -> Ed25519Signer:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:]
    return Ed25519Signer("PeterNeumann", ed25519.Ed25519PrivateKey.from_private_bytes(seed))


def test_go_verifier_keys_parse_and_round_trip() -> None:
    assert PETER.name == "PeterNeumann"
    assert PETER.key_id.hex() == "c74f20a3"
    assert PETER.vkey == PETER_VKEY
    assert ENOCH.vkey == ENOCH_VKEY
    assert key_id("PeterNeumann", 1, PETER.public_key) == bytes.fromhex("c74f20a3")


def test_signing_reproduces_gos_signed_note_byte_for_byte() -> None:
    signer = peter_signer()
    assert signer.verifier() == PETER
    assert sign_note(TEXT, [signer]) == (TEXT + "\n" + PETER_SIG).encode()
    assert "private_key" not in repr(signer)


def test_open_with_one_known_and_one_unknown_signature() -> None:
    opened = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [PETER])
    assert opened.text == TEXT
    assert [s.name for s in opened.verified] == ["PeterNeumann"]
    assert [s.name for s in opened.note.signatures] == ["PeterNeumann", "EnochRoot"]
    assert opened.verified_by(PETER)
    assert not opened.verified_by(ENOCH)


def test_open_with_both_known() -> None:
    opened = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [PETER, ENOCH])
    assert [s.name for s in opened.verified] == ["PeterNeumann", "EnochRoot"]


def test_no_known_signature_is_an_unknown_key_error() -> None:
    with pytest.raises(IntegrityError, match=r"unknown key: .*EnochRoot\+af0cfe78"):
        open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [])


def test_a_bad_signature_by_a_known_key_rejects_the_whole_note() -> None:
    bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(IntegrityError, match=r"bad signature by key PeterNeumann\+c74f20a3"):
        open_note((TEXT + "\n" + ENOCH_SIG + bad).encode(), [PETER, ENOCH])


def test_a_known_name_with_another_key_id_is_ignored() -> None:
    other = Ed25519Verifier("PeterNeumann", ENOCH.public_key)
    assert other.key_id != PETER.key_id
    with pytest.raises(IntegrityError, match="unknown key"):
        open_note((TEXT + "\n" + PETER_SIG).encode(), [other])


def test_duplicate_trusted_keys_are_refused() -> None:
    with pytest.raises(IntegrityError, match="two trusted keys share"):
        open_note((TEXT + "\n" + PETER_SIG).encode(), [PETER, ENOCH, PETER])


def test_repeated_signatures_are_listed_once() -> None:
    opened = open_note((TEXT + "\n" + PETER_SIG + PETER_SIG).encode(), [PETER])
    assert len(opened.verified) == 1
    assert len(opened.note.signatures) == 2


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (TEXT, "no blank line"),
        (TEXT + "\n", "does not end with a signature line"),
        (TEXT + "\n" + PETER_SIG[:-1], "does not end with a signature line"),
        ("\x01" + TEXT + "\n" + PETER_SIG, "control character"),
        (TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad\tName"), "control character"),
        (TEXT + "\n" + PETER_SIG.replace("PeterNeumann ", "Peter Neumann "), "not valid base64"),
        (TEXT + "\n" + PETER_SIG + "Unexpected line.\n", "does not start with an em dash"),
        (
            TEXT + "\n" + PETER_SIG.replace("\u2014 PeterNeumann ", "\u2014 PeterNeumann"),
            "no space",
        ),
        (TEXT + "\n" + "\u2014 A+B x08go/ZJ\n", "space, a plus"),
        (TEXT + "\n" + "\u2014 PeterNeumann x08g\n", "too short"),
        (TEXT + "\n" + "\u2014 PeterNeumann x08gox==\n", "not canonical"),
        (TEXT + "\n" + PETER_SIG * 101, "more than 100 signatures"),
        (TEXT + "\n" + "\u2014  x08go/ZJ\n", "must not be empty"),
        (TEXT + "\n" + "\u2014 Peter\u00a0Neumann x08go/ZJ\n", "space, a plus"),
    ],
)
def test_malformed_notes(message: str, reason: str) -> None:
    with pytest.raises(IntegrityError, match=reason):
        open_note(message.encode(), [PETER])


def test_invalid_utf8_and_oversize() -> None:
    with pytest.raises(IntegrityError, match="not valid UTF-8"):
        parse_note(b"\xff" + (TEXT + "\n" + PETER_SIG).encode())
    with pytest.raises(IntegrityError, match="at most"):
        parse_note(b"a" * (MAX_NOTE_BYTES + 1))


def test_text_may_contain_blank_lines_the_last_one_splits() -> None:
    text = "first\n\nsecond\n"
    signed = sign_note(text, [peter_signer()])
    assert open_note(signed, [PETER]).text == text


def test_note_values_check_their_invariants() -> None:
    sig = NoteSignature("PeterNeumann", b"\xc7\x4f\x20\xa3", b"s")
    with pytest.raises(IntegrityError, match="end with a newline"):
        Note("no newline", (sig,))
    with pytest.raises(IntegrityError, match="control characters"):
        Note("a\rb\n", (sig,))
    with pytest.raises(IntegrityError, match="valid UTF-8"):
        Note("\ud800\n", (sig,))
    with pytest.raises(IntegrityError, match="1 to 100"):
        Note("a\n", ())
    with pytest.raises(IntegrityError, match="key ID is 4 bytes"):
        NoteSignature("n", b"abc", b"s")
    with pytest.raises(IntegrityError, match="must not be empty"):
        NoteSignature("n", b"abcd", b"")
    assert "signature" not in repr(sig).replace("NoteSignature", "")


def test_with_signatures_replaces_a_keys_line_and_keeps_others() -> None:
    note = parse_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode())
    fresh = peter_signer().sign(TEXT)
    updated = note.with_signatures([fresh])
    assert [s.name for s in updated.signatures] == ["EnochRoot", "PeterNeumann"]


def test_sign_refuses_bad_text() -> None:
    with pytest.raises(IntegrityError, match="end with a newline"):
        sign_note("abc", [peter_signer()])
    with pytest.raises(IntegrityError, match="space, a plus"):
        Ed25519Signer("bad name", ed25519.Ed25519PrivateKey.generate())


def test_every_mangled_verifier_key_is_refused() -> None:
    """As in Go's TestNewVerifier: every proper substring and every one-byte change fails."""
    assert parse_verifier_key(PETER_VKEY) == PETER
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(IntegrityError):
                    parse_verifier_key(PETER_VKEY[i:j])
    for i in range(len(PETER_VKEY)):
        mangled = PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :]
        with pytest.raises(IntegrityError):
            parse_verifier_key(mangled)


@pytest.mark.parametrize(
    ("vkey", "reason"),
    [
        # Go's own: wrong-length key, and unknown algorithm, each with a matching key hash.
        # (Go decodes that one leniently; its last base64 group is not canonical, as we check.)
        ("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==", "canonical"),
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "type 0x65"),
        ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "lowercase hex"),
        ("PeterNeumann", "name\\+keyid\\+key"),
    ],
)
def test_verifier_key_errors(vkey: str, reason: str) -> None:
    with pytest.raises(IntegrityError, match=reason):
        parse_verifier_key(vkey)


def test_a_canonical_key_of_the_wrong_length_is_refused() -> None:
    raw = b"\x01" + PETER.public_key + b"\x00"
    hex_id = hashlib.sha256(b"PeterNeumann\n" + raw).hexdigest()[:8]
    vkey = f"PeterNeumann+{hex_id}+{base64.b64encode(raw).decode()}"
    with pytest.raises(IntegrityError, match="34 bytes, not 33"):
        parse_verifier_key(vkey)


def test_ed25519_verifier_checks_key_size_and_signature_size() -> None:
    with pytest.raises(IntegrityError, match="32 bytes, not 31"):
        Ed25519Verifier("n", b"k" * 31)
    assert not PETER.verify(TEXT.encode(), b"short")
    assert not Ed25519Verifier("n", b"\xff" * 32).verify(b"m\n", b"s" * 64)


def test_key_name_rules() -> None:
    for good in ("a", "example.com/log", "go.sum.database/\u00e9"):
        assert check_key_name(good) == good
    for bad in ("", "a+b", "a b", "a\u2003b", "a\nb"):
        with pytest.raises(IntegrityError):
            check_key_name(bad)


def test_a_key_name_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(IntegrityError, match="not valid UTF-8"):
        check_key_name("a\ud800")
    with pytest.raises(IntegrityError, match="not valid UTF-8"):
        parse_verifier_key("a\ud800+00000000+AQ==")

"""Checkpoints: strict text, origins, opening with log and cosigner keys, consistency, forks."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.errors import InputError, IntegrityError
from broker.ledger import (
    EMPTY_ROOT,
    Checkpoint,
    Cosigner,
    Ed25519Signer,
    MemoryNodeStore,
    Note,
    add_cosignatures,
    consistency_proof,
    cosign_checkpoint,
    detect_fork,
    leaf_hash,
    office_cosigner_name,
    office_origin,
    open_checkpoint,
    parse_checkpoint,
    root_at,
    sign_checkpoint,
    verify_checkpoint_consistency,
)

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ORIGIN = office_origin("liaison.example", "CN-YN-BLO-HK")
LOG = Ed25519Signer(ORIGIN, ed25519.Ed25519PrivateKey.from_private_bytes(b"L" * 32))
OTHER_LOG = Ed25519Signer(ORIGIN, ed25519.Ed25519PrivateKey.from_private_bytes(b"O" * 32))
TH = Cosigner(
    office_cosigner_name("liaison.example", "TH-CMI-LO-01"),
    ed25519.Ed25519PrivateKey.from_private_bytes(b"T" * 32),
)
LA = Cosigner(
    office_cosigner_name("liaison.example", "LA-VTE-LO-01"),
    ed25519.Ed25519PrivateKey.from_private_bytes(b"A" * 32),
)
STORE, _ = MemoryNodeStore.from_leaves(leaf_hash(b"e%d" % i) for i in range(40))


def checkpoint(size: int) -> Checkpoint:
    return Checkpoint(ORIGIN, size, root_at(STORE, size))


def cosigned(size: int, *cosigners: Cosigner, at: datetime = NOW) -> bytes:
    signed = sign_checkpoint(checkpoint(size), LOG)
    verified = open_checkpoint(signed, origin=ORIGIN, log_key=LOG.verifier())
    return add_cosignatures(signed, [cosign_checkpoint(verified, c, at) for c in cosigners])


def test_origin_and_cosigner_names() -> None:
    assert ORIGIN == "liaison.example/log/CN-YN-BLO-HK"
    assert TH.name == "liaison.example/witness/TH-CMI-LO-01"
    assert office_origin("x.liaison.example/net2", "TH-CMI-LO-01") == (
        "x.liaison.example/net2/log/TH-CMI-LO-01"
    )
    for network, office in [
        ("Liaison.example", "CN-YN-BLO-HK"),
        ("liaison example", "CN-YN-BLO-HK"),
        ("liaison.example", "cn-yn"),
        ("liaison.example", "CN+YN"),
        ("", "CN-YN"),
    ]:
        with pytest.raises(InputError):
            office_origin(network, office)


def test_text_round_trips_exactly() -> None:
    cp = Checkpoint(ORIGIN, 20852163, bytes(range(32)), ("ext one", "ext-two"))
    text = cp.text()
    assert text == (
        f"{ORIGIN}\n20852163\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\next one\next-two\n"
    )
    assert parse_checkpoint(text) == cp
    empty = Checkpoint(ORIGIN, 0, EMPTY_ROOT)
    assert parse_checkpoint(empty.text()) == empty
    assert empty.text().split("\n")[1] == "0"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"{ORIGIN}\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "newline"),
        (f"{ORIGIN}\n5\n", "2 lines"),
        (f"{ORIGIN}\n05\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "leading zeros"),
        (f"{ORIGIN}\n+5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "decimal"),
        (f"{ORIGIN}\n 5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "decimal"),
        (f"{ORIGIN}\n\u0665\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "decimal"),
        (f"{ORIGIN}\n9223372036854775808\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "range"),
        (f"{ORIGIN}\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh==\n", "base64"),
        (f"{ORIGIN}\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n", "31 bytes"),
        (f"{ORIGIN}\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n", "non-empty"),
        ("\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "origin is empty"),
        (f"{ORIGIN}\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nx\ty\n", "control"),
    ],
)
def test_malformed_checkpoint_text(text: str, reason: str) -> None:
    with pytest.raises(IntegrityError, match=reason):
        parse_checkpoint(text)


def test_open_a_signed_checkpoint() -> None:
    signed = sign_checkpoint(checkpoint(13), LOG)
    verified = open_checkpoint(signed, origin=ORIGIN, log_key=LOG.verifier())
    assert verified.checkpoint == checkpoint(13)
    assert verified.signed == signed
    assert verified.cosignatures == ()


def test_open_refuses_the_wrong_origin_and_the_wrong_key() -> None:
    signed = sign_checkpoint(checkpoint(13), LOG)
    with pytest.raises(IntegrityError, match=r"origin is 'liaison\.example/log/CN-YN-BLO-HK'"):
        open_checkpoint(signed, origin="liaison.example/log/TH-CMI-LO-01", log_key=LOG.verifier())
    with pytest.raises(IntegrityError, match="unknown key"):
        open_checkpoint(signed, origin=ORIGIN, log_key=OTHER_LOG.verifier())


def test_a_checkpoint_signed_only_by_a_cosigner_is_not_the_logs() -> None:
    text = checkpoint(13).text()
    only_cosigned = Note(text, (TH.sign_at(text, NOW),)).encode()
    with pytest.raises(IntegrityError, match="not signed by the log key"):
        open_checkpoint(
            only_cosigned, origin=ORIGIN, log_key=LOG.verifier(), cosigners=[TH.verifier()]
        )


def test_cosignatures_are_counted_and_read() -> None:
    data = cosigned(21, TH, LA)
    verified = open_checkpoint(
        data,
        origin=ORIGIN,
        log_key=LOG.verifier(),
        cosigners=[TH.verifier(), LA.verifier()],
        min_cosignatures=2,
        now=NOW,
    )
    assert [c.name for c in verified.cosignatures] == [TH.name, LA.name]
    assert verified.cosignatures[0].time == NOW
    # A verifier that knows only the log key ignores the cosignature lines.
    assert open_checkpoint(data, origin=ORIGIN, log_key=LOG.verifier()).cosignatures == ()


def test_too_few_cosignatures() -> None:
    data = cosigned(21, TH)
    with pytest.raises(IntegrityError, match="1 trusted cosignatures, 2 needed"):
        open_checkpoint(
            data,
            origin=ORIGIN,
            log_key=LOG.verifier(),
            cosigners=[TH.verifier(), LA.verifier()],
            min_cosignatures=2,
        )


def test_a_cosignature_from_the_future_is_refused() -> None:
    data = cosigned(21, TH, at=NOW + timedelta(minutes=6))
    log_key, cosigners = LOG.verifier(), [TH.verifier()]
    with pytest.raises(IntegrityError, match="dated in the future"):
        open_checkpoint(data, origin=ORIGIN, log_key=log_key, cosigners=cosigners, now=NOW)
    later = NOW + timedelta(minutes=1)
    assert open_checkpoint(data, origin=ORIGIN, log_key=log_key, cosigners=cosigners, now=later)


def test_a_tampered_cosignature_rejects_the_note() -> None:
    data = cosigned(21, TH)
    lines = data.split(b"\n")
    # Re-date TH's cosignature: the timestamp is covered by the signature.
    last = lines[-2].decode()
    name, encoded = last[2:].split(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[11] ^= 1
    lines[-2] = f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}".encode()
    with pytest.raises(IntegrityError, match=f"bad signature by key {TH.name}"):
        open_checkpoint(
            b"\n".join(lines), origin=ORIGIN, log_key=LOG.verifier(), cosigners=[TH.verifier()]
        )


def test_consistency_between_checkpoints() -> None:
    verify_checkpoint_consistency(
        checkpoint(7), checkpoint(33), consistency_proof(STORE, 7, 33).hashes
    )
    verify_checkpoint_consistency(checkpoint(0), checkpoint(33), [])
    verify_checkpoint_consistency(checkpoint(9), checkpoint(9), [])
    with pytest.raises(IntegrityError, match="root mismatch"):
        verify_checkpoint_consistency(
            checkpoint(7), checkpoint(34), consistency_proof(STORE, 7, 33).hashes
        )
    with pytest.raises(IntegrityError, match="empty-tree root"):
        verify_checkpoint_consistency(Checkpoint(ORIGIN, 0, bytes(32)), checkpoint(3), [])
    with pytest.raises(IntegrityError, match="nothing follows"):
        verify_checkpoint_consistency(checkpoint(0), checkpoint(3), [bytes(32)])
    other = Checkpoint(office_origin("liaison.example", "TH-CMI-LO-01"), 33, root_at(STORE, 33))
    with pytest.raises(IntegrityError, match="different logs"):
        verify_checkpoint_consistency(checkpoint(7), other, [])


def test_fork_detection() -> None:
    honest = open_checkpoint(
        sign_checkpoint(checkpoint(21), LOG), origin=ORIGIN, log_key=LOG.verifier()
    )
    forked_tree, _ = MemoryNodeStore.from_leaves(leaf_hash(b"f%d" % i) for i in range(21))
    forked_cp = Checkpoint(ORIGIN, 21, root_at(forked_tree, 21))
    forked = open_checkpoint(sign_checkpoint(forked_cp, LOG), origin=ORIGIN, log_key=LOG.verifier())
    evidence = detect_fork(honest, forked)
    assert evidence is not None
    assert (evidence.origin, evidence.size) == (ORIGIN, 21)
    assert (evidence.first_root, evidence.second_root) == (
        checkpoint(21).root_hash,
        forked_cp.root_hash,
    )
    assert (evidence.first, evidence.second) == (honest.signed, forked.signed)
    assert str(evidence).startswith(f"fork of {ORIGIN} at size 21: roots ")
    # The evidence stands on its own: both notes verify under the log's key.
    for note in (evidence.first, evidence.second):
        open_checkpoint(note, origin=ORIGIN, log_key=LOG.verifier())
    # Same root, or different sizes: no evidence (sizes need a consistency proof instead).
    assert detect_fork(honest, honest) is None
    later = open_checkpoint(
        sign_checkpoint(checkpoint(22), LOG), origin=ORIGIN, log_key=LOG.verifier()
    )
    assert detect_fork(honest, later) is None


def test_fork_detection_needs_one_origin() -> None:
    other_origin = office_origin("liaison.example", "TH-CMI-LO-01")
    signer = Ed25519Signer(other_origin, ed25519.Ed25519PrivateKey.from_private_bytes(b"X" * 32))
    other = open_checkpoint(
        sign_checkpoint(Checkpoint(other_origin, 21, bytes(32)), signer),
        origin=other_origin,
        log_key=signer.verifier(),
    )
    mine = open_checkpoint(
        sign_checkpoint(checkpoint(21), LOG), origin=ORIGIN, log_key=LOG.verifier()
    )
    with pytest.raises(IntegrityError, match="different logs"):
        detect_fork(mine, other)


def test_add_cosignatures_replaces_a_cosigners_earlier_line() -> None:
    first = cosigned(21, TH, at=NOW)
    verified = open_checkpoint(first, origin=ORIGIN, log_key=LOG.verifier())
    again = add_cosignatures(first, [cosign_checkpoint(verified, TH, NOW + timedelta(hours=1))])
    assert again.count(TH.name.encode()) == 1
    reopened = open_checkpoint(
        again, origin=ORIGIN, log_key=LOG.verifier(), cosigners=[TH.verifier()]
    )
    assert reopened.cosignatures[0].time == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"size": -1}, "out of range"),
        ({"root_hash": b"x"}, "1 bytes, not 32"),
        ({"origin": ""}, "origin is empty"),
        ({"origin": "a\nb"}, "control"),
        ({"extensions": ("",)}, "non-empty"),
    ],
)
def test_checkpoint_invariants(kwargs: dict[str, object], reason: str) -> None:
    values: dict[str, object] = {"origin": ORIGIN, "size": 1, "root_hash": bytes(32)}
    values.update(kwargs)
    with pytest.raises(IntegrityError, match=reason):
        Checkpoint(**values)  # type: ignore[arg-type]

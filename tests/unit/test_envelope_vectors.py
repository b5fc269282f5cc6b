"""The committed envelope vectors: current with their generator, and opened as they say."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from broker.envelope import (
    KeyWindow,
    Limits,
    StaticDirectory,
    open_envelope,
    open_with_cek,
    peek_header,
    verify_envelope,
)
from broker.envelope.header import encode_envelope
from broker.envelope.pae import signed_input, wrap_info
from broker.errors import PeerError, RejectReason
from broker.keys.model import OfficeKeys
from tests.vectors import generate_envelope

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "envelope"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


KEYS_DOC = _load("keys.json")
VALID = _load("valid.json")["cases"]
INVALID = _load("invalid.json")["cases"]


def _keys_from_file() -> dict[str, OfficeKeys]:
    """Private keys rebuilt from the seeds in keys.json, not from the generator's code."""
    keys = {}
    for office in KEYS_DOC["offices"]:
        seeds = {k: (bytes.fromhex(v) if v else None) for k, v in office["seeds"].items()}
        keys[office["office_id"]] = OfficeKeys.from_seeds(
            office["office_id"],
            signing=seeds["signing"],
            encryption=seeds["encryption"],
            hybrid_mlkem=seeds["hybrid_mlkem"],
            hybrid_x25519=seeds["hybrid_x25519"],
        )
    return keys


KEYS = _keys_from_file()


def _directory(case: dict[str, Any]) -> StaticDirectory:
    windows = {
        bytes.fromhex(key_id): KeyWindow(
            **{k: (datetime.fromisoformat(v) if v else None) for k, v in window.items()}
        )
        for key_id, window in case["windows"].items()
    }
    listed = (KEYS[o["office_id"]].public() for o in KEYS_DOC["offices"] if o["in_directory"])
    return StaticDirectory.of(KEYS_DOC["directory_version"], listed, windows)


def _open(case: dict[str, Any], opener: str) -> Any:
    return open_envelope(
        bytes.fromhex(case["envelope"]),
        KEYS[opener],
        _directory(case),
        now=datetime.fromisoformat(case["now"]),
        seen={bytes.fromhex(s) for s in case["seen"]},
        limits=Limits(**case["limits"]),
    )


def test_vectors_are_what_the_generator_makes() -> None:
    assert generate_envelope.check() == [], (
        "run: .venv/bin/python tests/vectors/generate_envelope.py"
    )


def test_keys_file_publics_follow_from_its_seeds() -> None:
    for office in KEYS_DOC["offices"]:
        public = KEYS[office["office_id"]].public()
        assert public.signing.hex() == office["public"]["signing"]
        assert public.encryption.hex() == office["public"]["encryption"]
        assert public.signing_key_id.hex() == office["key_ids"]["signing"]
        assert public.encryption_key_id.hex() == office["key_ids"]["encryption"]
        hybrid = public.hybrid.raw().hex() if public.hybrid else None
        assert hybrid == office["public"]["hybrid"]


def test_every_reject_reason_of_the_envelope_has_a_vector() -> None:
    covered = {c["expected"]["reason"] for c in INVALID}
    # POLICY is the policy layer's verdict, never the envelope's.
    assert covered == {r.value for r in RejectReason} - {RejectReason.POLICY.value}


def test_the_valid_vectors_cover_one_three_recipients_and_pq() -> None:
    shapes = {(c["expected"]["header"]["suite"], len(c["openers"])) for c in VALID}
    assert shapes == {("liaison-v1", 1), ("liaison-v1", 3), ("liaison-v1-pq", 1)}


@pytest.mark.parametrize("case", VALID, ids=[c["name"] for c in VALID])
def test_valid_vector_opens_for_every_addressee(case: dict[str, Any]) -> None:
    expected = case["expected"]
    for opener in case["openers"]:
        opened = _open(case, opener)
        assert opened.payload.hex() == expected["payload"]
        assert opened.cek.hex() == expected["cek"]
        assert opened.digest.hex() == expected["digest"]
        head, want = opened.header, expected["header"]
        assert head.suite.value == want["suite"]
        assert head.message_id.hex() == want["message_id"]
        assert head.kind.name == want["kind"]
        assert head.created_at == datetime.fromisoformat(want["created_at"])
        assert head.expires_at == datetime.fromisoformat(want["expires_at"])
        assert head.sender == want["sender"]
        assert head.sender_key_id.hex() == want["sender_key_id"]
        assert head.directory_version == want["directory_version"]
        assert [(r.office_id, r.key_id.hex()) for r in head.recipients] == [
            (r["office_id"], r["key_id"]) for r in want["recipients"]
        ]
        assert head.nonce.hex() == want["nonce"]
        assert head.commitment.hex() == want["commitment"]


@pytest.mark.parametrize("case", VALID, ids=[c["name"] for c in VALID])
def test_valid_vector_verifies_and_opens_with_its_cek(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["envelope"])
    directory = _directory(case)
    verified = verify_envelope(data, directory)
    assert verified.digest.hex() == case["expected"]["digest"]
    assert peek_header(data) == verified.header
    opened = open_with_cek(data, bytes.fromhex(case["expected"]["cek"]), directory)
    assert opened.payload.hex() == case["expected"]["payload"]


@pytest.mark.parametrize("case", [c for c in VALID if "intermediate" in c], ids=lambda c: c["name"])
def test_intermediate_values_are_consistent_with_the_envelope(case: dict[str, Any]) -> None:
    parts = {k: bytes.fromhex(v) for k, v in case["intermediate"].items() if k != "hpke_info"}
    assert encode_envelope(
        parts["header"], parts["ciphertext"], parts["signature"]
    ) == bytes.fromhex(case["envelope"])
    assert signed_input(parts["header"], parts["ciphertext"]) == parts["signed_input"]
    head = case["expected"]["header"]
    for office, info in case["intermediate"]["hpke_info"].items():
        message_id = bytes.fromhex(head["message_id"])
        assert wrap_info(head["suite"], message_id, head["sender"], office).hex() == info


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_invalid_vector_is_rejected_for_its_reason(case: dict[str, Any]) -> None:
    (opener,) = case["openers"]
    with pytest.raises(PeerError) as caught:
        _open(case, opener)
    assert caught.value.reason == RejectReason(case["expected"]["reason"])
    assert str(caught.value) == PeerError.GENERIC

"""The committed directory vectors: current with their generator, and judged as they say."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.directory import (
    TrustState,
    accept_chain,
    compile_source,
    decode_root,
    decode_signed,
    encode_content,
    refusal_rule,
    signed_input,
)
from broker.errors import IntegrityError
from tests.vectors import generate_directory

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "directory"
CASES = json.loads((VECTORS / "cases.json").read_text(encoding="utf-8"))["cases"]


def test_the_vectors_are_what_the_generator_produces() -> None:
    assert generate_directory.check() == [], (
        "run: .venv/bin/python tests/vectors/generate_directory.py"
    )


def _trusted(spec: dict[str, Any]) -> TrustState:
    root = decode_root((VECTORS / spec["root"]).read_bytes())
    return TrustState(root, spec["version"], bytes.fromhex(spec["content_sha256"]))


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_each_case_has_its_expected_outcome(case: dict[str, Any]) -> None:
    chain = [(VECTORS / name).read_bytes() for name in case["files"]]
    now = datetime.fromisoformat(case["at"])
    expect = case["expect"]
    if expect["accepted"]:
        accepted = accept_chain(chain, _trusted(case["trusted"]), now=now)
        assert accepted.directory.version == expect["version"]
        assert list(accepted.signers) == expect["signers"]
        assert accepted.root_rotated == expect["root_rotated"]
        assert accepted.not_counted == expect["not_counted"]
    else:
        with pytest.raises(IntegrityError) as caught:
            accept_chain(chain, _trusted(case["trusted"]), now=now)
        rule = refusal_rule(caught.value)
        assert rule is not None
        assert rule.value == expect["rule"]


def test_every_rule_but_oversize_has_a_vector() -> None:
    rules = {case["expect"].get("rule") for case in CASES} - {None}
    assert rules == {
        "malformed", "bad-signature", "below-threshold", "root-rotation-unsigned", "rollback",
        "version-conflict", "expired",
    }  # fmt: skip


def test_the_signing_steps_are_spelled_out_correctly() -> None:
    steps = json.loads((VECTORS / "signing.json").read_text(encoding="utf-8"))
    content = bytes.fromhex(steps["content_hex"])
    assert content == decode_signed((VECTORS / "v1.bin").read_bytes()).content
    assert bytes.fromhex(steps["signed_input_hex"]) == signed_input(content)
    label = steps["label"].encode()
    expected = (
        (2).to_bytes(8, "big") + len(label).to_bytes(8, "big") + label
        + len(content).to_bytes(8, "big") + content
    )  # fmt: skip
    assert signed_input(content) == expected
    for item in steps["signatures"]:
        public = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(item["public_key_hex"]))
        public.verify(bytes.fromhex(item["signature_hex"]), expected)


def test_the_source_compiles_to_the_signed_content() -> None:
    content = compile_source((VECTORS / "source.toml").read_bytes())
    assert encode_content(content) == decode_signed((VECTORS / "v1.bin").read_bytes()).content


def test_the_administrator_seeds_give_the_roots() -> None:
    seeds = json.loads((VECTORS / "keys.json").read_text(encoding="utf-8"))["administrators"]
    root_a = decode_root((VECTORS / "root-a.json").read_bytes())
    for admin in root_a.keys:
        private = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seeds[admin.name]))
        assert private.public_key().public_bytes_raw() == admin.public_key

"""The committed exchange-log vectors are what the generator makes, and they verify."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from broker.ledger import (
    check_consistency_proof,
    check_inclusion_proof,
    leaf_hash,
    open_checkpoint,
    parse_cosigner_key,
    parse_verifier_key,
    verify_consistency,
    verify_inclusion,
)
from tests.vectors import generate_log

LOG_DIR = generate_log.OUT
KEYS = json.loads((LOG_DIR / "keys.json").read_text())
LOG_KEY = parse_verifier_key(KEYS["log"]["vkey"])
WITNESS = parse_cosigner_key(KEYS["witness"]["vkey"])
ORIGIN = KEYS["log"]["name"]
NOW = datetime.fromisoformat(KEYS["cosigned_at"])


def test_vectors_regenerate_byte_for_byte() -> None:
    assert generate_log.check() == [], "run: .venv/bin/python tests/vectors/generate_log.py"


def test_keys_are_the_demo_seeds() -> None:
    assert ORIGIN == "liaison.example/log/CN-YN-BLO-HK"
    assert KEYS["warning"].startswith("DEMO ONLY")
    assert generate_log.LOG_SIGNER.verifier() == LOG_KEY
    assert generate_log.COSIGNER.verifier() == WITNESS


def test_tree_vectors_verify() -> None:
    document = json.loads((LOG_DIR / "trees.json").read_text())
    sizes = [tree["size"] for tree in document["trees"]]
    assert sizes == [1, 2, 3, 4, 5, 6, 7, 8, 300]
    checked = 0
    for tree in document["trees"]:
        root = base64.b64decode(tree["root"])
        for case in tree["inclusion"]:
            hashes = [base64.b64decode(h) for h in case["proof"]]
            leaf = leaf_hash(generate_log.entry(case["index"]))
            verify_inclusion(leaf, case["index"], tree["size"], hashes, root)
            checked += 1
        for case in tree["consistency"]:
            hashes = [base64.b64decode(h) for h in case["proof"]]
            root1 = base64.b64decode(case["root1"])
            verify_consistency(case["size1"], tree["size"], hashes, root1, root)
            checked += 1
    assert checked == 2 * 36 + len(generate_log.BIG_INDICES) + len(generate_log.BIG_OLD_SIZES)


def test_signed_files_verify() -> None:
    cosigned = (LOG_DIR / "checkpoint-300-cosigned.note").read_bytes()
    verified = open_checkpoint(
        cosigned, origin=ORIGIN, log_key=LOG_KEY, cosigners=[WITNESS], min_cosignatures=1, now=NOW
    )
    assert verified.checkpoint.size == 300
    assert verified.cosignatures[0].time == NOW
    old = open_checkpoint(
        (LOG_DIR / "checkpoint-100.note").read_bytes(), origin=ORIGIN, log_key=LOG_KEY
    ).checkpoint
    proof = (LOG_DIR / "inclusion-129-in-300.tlog-proof").read_bytes()
    check_inclusion_proof(
        proof,
        leaf_hash=leaf_hash(generate_log.entry(129)),
        origin=ORIGIN,
        log_key=LOG_KEY,
        cosigners=[WITNESS],
        min_cosignatures=1,
    )
    consistency = (LOG_DIR / "consistency-100-to-300.proof").read_bytes()
    assert check_consistency_proof(consistency, old=old, log_key=LOG_KEY).checkpoint.size == 300

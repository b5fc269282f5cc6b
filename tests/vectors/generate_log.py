"""Generate the exchange-log test vectors in tests/vectors/log/, or check them.

    python tests/vectors/generate_log.py           rewrite every generated file
    python tests/vectors/generate_log.py --check   regenerate in memory; exit 1 on a difference

Everything is fixed: the entries (``entry(i)``), the demo key seeds (derived from labels, and
written to keys.json: DEMO ONLY, never use them for a real office), the network name and the
cosigning time ``NOW``. Ed25519 is deterministic, so every file is byte-for-byte reproducible.
The files under log/interop/ are copies of other projects' published data and are not generated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.envelope import MessageKind
from broker.exchange_log.entry import EventType, LogEntry
from broker.exchange_log.replay import entry_to_json
from broker.ledger import (
    Cosigner,
    Ed25519Signer,
    MemoryNodeStore,
    add_cosignatures,
    consistency_proof,
    format_consistency_proof,
    format_inclusion_proof,
    inclusion_proof,
    leaf_hash,
    office_cosigner_name,
    office_origin,
    open_checkpoint,
    root_at,
    sign_checkpoint,
)
from broker.ledger.checkpoint import Checkpoint, cosign_checkpoint
from broker.ledger.note import b64encode
from broker.model.checkpoint_exchange import CheckpointExchange

OUT = Path(__file__).resolve().parent / "log"
NETWORK = "liaison.example"
LOG_OFFICE = "CN-YN-BLO-HK"
WITNESS_OFFICE = "TH-CMI-LO-01"
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

SMALL_SIZES = range(1, 9)
BIG = 300
BIG_INDICES = (0, 1, 2, 127, 128, 129, 255, 256, 257, 298, 299)
BIG_OLD_SIZES = (1, 2, 3, 7, 8, 100, 127, 128, 129, 255, 256, 257, 299, 300)
OLD_CHECKPOINT_SIZE = 100
PROVEN_INDEX = 129

ENTRY_RULE = "entry(i) = UTF-8 of 'DEMO exchange-log entry <i>, not a real entry' (i decimal)"


def entry(i: int) -> bytes:
    return f"DEMO exchange-log entry {i}, not a real entry".encode()


def demo_seed(role: str, office: str) -> bytes:
    """A demo Ed25519 seed: SHA-256("liaison-v1 demo log key" 0x00 role 0x00 office)."""
    return hashlib.sha256(
        b"liaison-v1 demo log key\x00" + role.encode() + b"\x00" + office.encode()
    ).digest()


LOG_SEED = demo_seed("log", LOG_OFFICE)
WITNESS_SEED = demo_seed("witness", WITNESS_OFFICE)
ORIGIN = office_origin(NETWORK, LOG_OFFICE)
LOG_SIGNER = Ed25519Signer(ORIGIN, ed25519.Ed25519PrivateKey.from_private_bytes(LOG_SEED))
COSIGNER = Cosigner(
    office_cosigner_name(NETWORK, WITNESS_OFFICE),
    ed25519.Ed25519PrivateKey.from_private_bytes(WITNESS_SEED),
)


def demo_tree() -> MemoryNodeStore:
    store, _ = MemoryNodeStore.from_leaves(leaf_hash(entry(i)) for i in range(BIG))
    return store


def _b64s(hashes: tuple[bytes, ...]) -> list[str]:
    return [b64encode(h) for h in hashes]


def _tree(store: MemoryNodeStore, size: int, indices: Any, old_sizes: Any) -> dict[str, Any]:
    return {
        "size": size,
        "root": b64encode(root_at(store, size)),
        "inclusion": [
            {"index": i, "proof": _b64s(inclusion_proof(store, i, size).hashes)} for i in indices
        ],
        "consistency": [
            {
                "size1": m,
                "root1": b64encode(root_at(store, m)),
                "proof": _b64s(consistency_proof(store, m, size).hashes),
            }
            for m in old_sizes
        ],
    }


def trees_document(store: MemoryNodeStore) -> dict[str, Any]:
    trees = [_tree(store, n, range(n), range(1, n + 1)) for n in SMALL_SIZES]
    trees.append(_tree(store, BIG, BIG_INDICES, BIG_OLD_SIZES))
    return {
        "about": "Liaison exchange-log Merkle vectors (RFC 9162 section 2.1); hashes are base64",
        "entry_rule": ENTRY_RULE,
        "leaf_hash_rule": "SHA-256(0x00 || entry(i))",
        "leaf_hashes_of_first_8": [b64encode(leaf_hash(entry(i))) for i in range(8)],
        "trees": trees,
    }


def keys_document() -> dict[str, Any]:
    return {
        "warning": "DEMO ONLY: these seeds are public. Never use them for a real office.",
        "seed_rule": "SHA-256('liaison-v1 demo log key' 0x00 role 0x00 office id)",
        "log": {
            "office": LOG_OFFICE,
            "name": LOG_SIGNER.name,
            "seed_hex": LOG_SEED.hex(),
            "vkey": LOG_SIGNER.verifier().vkey,
        },
        "witness": {
            "office": WITNESS_OFFICE,
            "name": COSIGNER.name,
            "seed_hex": WITNESS_SEED.hex(),
            "vkey": COSIGNER.verifier().vkey,
        },
        "cosigned_at": NOW.isoformat(),
    }


def _label_bytes(label: str, size: int) -> bytes:
    """Fixed demo ids and digests: the first ``size`` bytes of SHA-256 of a label."""
    return hashlib.sha256(f"liaison-v1 demo {label}".encode()).digest()[:size]


def demo_entries() -> list[LogEntry]:
    """One entry of each event type, with demo ids: the entry encoding's vectors."""
    at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    enquiry = _label_bytes("enquiry id", 16)
    receipt = _label_bytes("receipt id", 16)
    response = _label_bytes("response id", 16)
    message = {
        "kind": MessageKind.ENQUIRY,
        "message_id": enquiry,
        "sender": LOG_OFFICE,
        "recipients": ("VN-BCA-C02", WITNESS_OFFICE),
        "envelope_digest": _label_bytes("enquiry envelope", 32),
        "case_ref": "HK-2026-0042",
    }
    reply = {
        "kind": MessageKind.RESPONSE,
        "message_id": response,
        "sender": "VN-BCA-C02",
        "recipients": (LOG_OFFICE,),
        "envelope_digest": _label_bytes("response envelope", 32),
        "related_message_id": enquiry,
    }
    ack = {
        "kind": MessageKind.RECEIPT,
        "message_id": receipt,
        "sender": "VN-BCA-C02",
        "recipients": (LOG_OFFICE,),
        "envelope_digest": _label_bytes("receipt envelope", 32),
        "related_message_id": enquiry,
    }
    checkpoint = {"log_origin": ORIGIN, "tree_size": 300, "root_hash": _label_bytes("root", 32)}
    E = EventType  # noqa: N806 - a short alias keeps the table readable
    rows: list[tuple[EventType, dict[str, Any]]] = [
        (E.SUBMITTED, message | {"due_at": datetime(2026, 3, 9, 0, 0, tzinfo=UTC)}),
        (E.PUBLISHED, message),
        (E.CONFIRMED, message),
        (E.RETURNED, message | {"reason": "unroutable"}),
        (E.RECEIVED, reply),
        (E.REJECTED, reply | {"reason": "bad-signature"}),
        (E.HANDED_OVER, reply),
        (E.RECEIPT_SENT, ack | {"sender": LOG_OFFICE, "recipients": ("VN-BCA-C02",)}),
        (E.RECEIPT_RECEIVED, ack),
        (E.RESPONSE_SENT, reply | {"sender": LOG_OFFICE, "recipients": ("VN-BCA-C02",)}),
        (E.RESPONSE_RECEIVED, reply),
        (E.OVERDUE, message),
        (E.DIRECTORY_LOADED, {"directory_version": 7, "directory_digest": _label_bytes("dir", 32)}),
        (E.KEY_GENERATED, {"key_id": _label_bytes("key", 16)}),
        (E.KEY_ROTATED, {"key_id": _label_bytes("new key", 16)}),
        (E.KEY_REVOKED, {"key_id": _label_bytes("key", 16), "reason": "key-compromise"}),
        (E.DAEMON_STARTED, {}),
        (E.DAEMON_STOPPED, {}),
        (E.CHECKPOINT_PUBLISHED, checkpoint),
        (E.CHECKPOINT_COSIGNED, checkpoint | {"log_origin": "liaison.example/log/VN-BCA-C02"}),
        (E.FORK_ALARM, checkpoint | {"other_root_hash": _label_bytes("other root", 32)}),
        (
            E.AUDIT_DECRYPTION,
            reply | {"actor": LOG_OFFICE, "purpose": "DEMO oversight review 2026-07"},
        ),
        (E.ENVELOPES_PURGED, {"purged_before": 1000}),
        (E.COSIGNATURE_RECEIVED, checkpoint | {"sender": "VN-BCA-C02"}),
    ]
    return [
        LogEntry(event, at + timedelta(seconds=i), **fields)
        for i, (event, fields) in enumerate(rows)
    ]


def entries_document() -> dict[str, Any]:
    vectors = []
    for entry in demo_entries():
        fields = entry_to_json(0, entry)
        del fields["index"]
        encoded = entry.encode()
        vectors.append(
            {
                "fields": fields,
                "bytes_hex": encoded.hex(),
                "leaf_hash_hex": leaf_hash(encoded).hex(),
            }
        )
    return {
        "about": "Liaison exchange-log entries (proto/liaison/v1/log.proto), canonical encoding",
        "warning": "DEMO ONLY: ids, digests and offices are made up; no real case.",
        "rule": "bytes: deterministic protobuf of LogEntry v1; leaf = SHA-256(0x00 || bytes)",
        "entries": vectors,
    }


def _json(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode()


def build() -> dict[str, bytes]:
    """Every generated file's name (under log/) and exact bytes."""
    store = demo_tree()
    old = Checkpoint(ORIGIN, OLD_CHECKPOINT_SIZE, root_at(store, OLD_CHECKPOINT_SIZE))
    new = Checkpoint(ORIGIN, BIG, root_at(store, BIG))
    signed_old = sign_checkpoint(old, LOG_SIGNER)
    signed_new = sign_checkpoint(new, LOG_SIGNER)
    verified = open_checkpoint(signed_new, origin=ORIGIN, log_key=LOG_SIGNER.verifier())
    cosigned = add_cosignatures(signed_new, [cosign_checkpoint(verified, COSIGNER, NOW)])
    inclusion = inclusion_proof(store, PROVEN_INDEX, BIG)
    consistency = consistency_proof(store, OLD_CHECKPOINT_SIZE, BIG)
    return {
        "trees.json": _json(trees_document(store)),
        "keys.json": _json(keys_document()),
        f"checkpoint-{OLD_CHECKPOINT_SIZE}.note": signed_old,
        f"checkpoint-{BIG}.note": signed_new,
        f"checkpoint-{BIG}-cosigned.note": cosigned,
        f"inclusion-{PROVEN_INDEX}-in-{BIG}.tlog-proof": format_inclusion_proof(
            inclusion, cosigned
        ),
        f"consistency-{OLD_CHECKPOINT_SIZE}-to-{BIG}.proof": format_consistency_proof(
            consistency, cosigned
        ),
        "entries.json": _json(entries_document()),
        "checkpoint-exchange.json": _json(
            exchange_document(signed_new, consistency.hashes, cosigned)
        ),
    }


def exchange_document(checkpoint: bytes, proof: Sequence[bytes], cosigned: bytes) -> dict[str, Any]:
    """The two CHECKPOINT payloads of one round trip (docs/exchange-log.md, "Checkpoint
    exchange"): the log's checkpoint with its proof from size 100, and the cosigned reply."""
    sent = CheckpointExchange(
        office=LOG_OFFICE,
        checkpoint=checkpoint,
        proof_from=OLD_CHECKPOINT_SIZE,
        consistency_proof=tuple(proof),
    )
    reply = CheckpointExchange(office=WITNESS_OFFICE, cosigned=cosigned)
    return {
        "about": "liaison.v1.CheckpointExchange payloads (proto/liaison/v1/log.proto)",
        "warning": "DEMO ONLY: the keys are public (keys.json).",
        "rule": "bytes: deterministic protobuf; notes are the signed notes verbatim",
        "payloads": [
            {
                "name": name,
                "office": message.office,
                "checkpoint": message.checkpoint.decode(),
                "proof_from": message.proof_from,
                "consistency_proof": [b64encode(h) for h in message.consistency_proof],
                "cosigned": message.cosigned.decode(),
                "bytes_hex": message.to_bytes().hex(),
            }
            for name, message in (("checkpoint", sent), ("cosigned reply", reply))
        ],
    }


def check() -> list[str]:
    """Files that differ from a fresh generation (empty when all match)."""
    problems = []
    for name, data in build().items():
        path = OUT / name
        if not path.exists() or path.read_bytes() != data:
            problems.append(f"tests/vectors/log/{name} differs from what the generator makes")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = parser.parse_args()
    if args.check:
        problems = check()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    documents = build()
    OUT.mkdir(exist_ok=True)
    for name, data in documents.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {len(documents)} files in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

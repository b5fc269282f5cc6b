"""Exchange-log speed: appends, `audit verify` (structural and full) and proofs, at N entries,
beside the time bare hashlib.sha256 needs to hash the same entry bytes, measured in the same run.

    .venv/bin/python -m bench.log_bench             # N = 1,000,000 (a few minutes)
    .venv/bin/python -m bench.log_bench --quick     # N = 50,000 (well under a minute)
    .venv/bin/python -m bench.log_bench --json      # the figures as one JSON document

The log is an office's as the daemon writes it: each conversation with one of four partners is
an enquiry (submitted, published, confirmed), its receipt (received, receipt-received), the
response (received, response-received, handed-over) and our receipt for it (receipt-sent,
published, confirmed): 11 entries naming 4 real sealed envelopes, with a checkpoint every
50,000 entries and one at the end. Appends are durable (WAL, synchronous=FULL), in batches of
1,000; the envelope fixture is written without fsync (its speed is not what is measured here).

Targets, reported as they come out: structural verification within 2x bare hashing; full
verification (every envelope's signature too, on every core) at least 20,000 entries/s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from broker.envelope import MessageKind, Recipient, StaticDirectory, Suite, peek_header, seal
from broker.exchange_log import (
    DirectoryLogKeys,
    EnvelopeStore,
    EventType,
    ExchangeLog,
    LogEntry,
    entry_for_envelope,
    log_signer,
)
from broker.exchange_log.verify import default_workers, verify_log
from broker.keys.model import OfficeKeys
from broker.model import CaseEnquiry, CaseResponse, Receipt, ReceiptStatus

ROOT = Path(__file__).resolve().parent.parent
OFFICE = "CN-YN-BLO-HK"
PARTNERS = ("VN-BCA-C02", "LA-MOPS-ATD", "MM-MPF-ATTF", "TH-CMI-LO-01")
T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
ENTRIES_PER_CONVERSATION = 11
CHECKPOINT_EVERY = 50_000
BATCH = 1000


def _seeds(keys: OfficeKeys) -> tuple[str, bytes, bytes]:
    return keys.office_id, keys.signing.private_bytes_raw(), keys.encryption.private_bytes_raw()


def _keys(seeds: tuple[str, bytes, bytes]) -> OfficeKeys:
    office_id, signing, encryption = seeds
    return OfficeKeys.from_seeds(office_id, signing=signing, encryption=encryption)


_SEALER: dict[str, Any] = {}


def _init_sealer(seeds: list[tuple[str, bytes, bytes]], store_root: str) -> None:
    offices = {s[0]: _keys(s) for s in seeds}
    _SEALER["offices"] = offices
    _SEALER["store"] = EnvelopeStore(Path(store_root), durable=False)
    _SEALER["enquiry"] = CaseEnquiry.from_json(
        (ROOT / "docs" / "examples" / "identity-check.json").read_text(encoding="utf-8")
    ).to_bytes()
    _SEALER["response"] = CaseResponse.from_json(
        (ROOT / "docs" / "examples" / "case-response.json").read_text(encoding="utf-8")
    ).to_bytes()


def _seal_one(sender: str, to: str, kind: MessageKind, payload: bytes, now: datetime) -> tuple:  # type: ignore[type-arg]
    offices = _SEALER["offices"]
    envelope = seal(
        payload,
        kind=kind,
        sender=offices[sender],
        recipients=[Recipient(to, Suite.V1, offices[to].public())],
        directory_version=1,
        now=now,
    )
    digest = _SEALER["store"].put(envelope)
    header = peek_header(envelope)
    return header.message_id, kind, sender, to, digest


def _receipt(by: str, acked: tuple, now: datetime) -> bytes:  # type: ignore[type-arg]
    return Receipt(
        message_id=acked[0],
        envelope_digest=acked[4],
        status=ReceiptStatus.ACCEPTED,
        receiving_office=by,
        received_at=now,
    ).to_bytes()


def _conversation(number: int) -> list[tuple]:  # type: ignore[type-arg]
    """Seal one conversation's four envelopes; return their (id, kind, sender, to, digest)."""
    partner = PARTNERS[number % len(PARTNERS)]
    now = T0 + timedelta(seconds=number * 60)
    enquiry = _seal_one(OFFICE, partner, MessageKind.ENQUIRY, _SEALER["enquiry"], now)
    ack = _seal_one(partner, OFFICE, MessageKind.RECEIPT, _receipt(partner, enquiry, now), now)
    answer = _seal_one(partner, OFFICE, MessageKind.RESPONSE, _SEALER["response"], now)
    our_ack = _seal_one(OFFICE, partner, MessageKind.RECEIPT, _receipt(OFFICE, answer, now), now)
    return [enquiry, ack, answer, our_ack]


def _seal_batch(numbers: range) -> list[list[tuple]]:  # type: ignore[type-arg]
    return [_conversation(n) for n in numbers]


class _Header:
    """What entry_for_envelope reads from a header, rebuilt from the sealers' tuples."""

    def __init__(self, sealed: tuple) -> None:  # type: ignore[type-arg]
        self.message_id, self.kind, self.sender, to, _ = sealed
        self.recipients = (type("R", (), {"office_id": to})(),)


def _entries(number: int, sealed: list[tuple]) -> list[LogEntry]:  # type: ignore[type-arg]
    enquiry, ack, answer, our_ack = sealed
    at = T0 + timedelta(seconds=number * 60)
    case = f"HK-2026-{number:07d}"

    def e(event: EventType, item: tuple, step: int, **extra: Any) -> LogEntry:  # type: ignore[type-arg]
        when = at + timedelta(seconds=step)
        return entry_for_envelope(event, _Header(item), item[4], time=when, **extra)  # type: ignore[arg-type]

    return [
        e(EventType.SUBMITTED, enquiry, 0, case_ref=case, due_at=at + timedelta(days=7)),
        e(EventType.PUBLISHED, enquiry, 1),
        e(EventType.CONFIRMED, enquiry, 2),
        e(EventType.RECEIVED, ack, 3),
        e(EventType.RECEIPT_RECEIVED, ack, 4, related_message_id=enquiry[0]),
        e(EventType.RECEIVED, answer, 5, case_ref=case),
        e(EventType.RESPONSE_RECEIVED, answer, 6, related_message_id=enquiry[0]),
        e(EventType.HANDED_OVER, answer, 7),
        e(EventType.RECEIPT_SENT, our_ack, 8, related_message_id=answer[0]),
        e(EventType.PUBLISHED, our_ack, 9),
        e(EventType.CONFIRMED, our_ack, 10),
    ]


@dataclass
class Fixture:
    log_path: Path
    store_root: Path
    directory: StaticDirectory
    entries: int
    envelopes: int
    append_batched_per_s: float
    append_single_per_s: float


def build(folder: Path, target: int, workers: int) -> Fixture:
    offices = [OfficeKeys.generate(OFFICE), *(OfficeKeys.generate(p) for p in PARTNERS)]
    directory = StaticDirectory.of(1, [o.public() for o in offices])
    store_root = folder / "envelopes"
    conversations = max(1, target // ENTRIES_PER_CONVERSATION)
    step = 500
    with ProcessPoolExecutor(
        workers, initializer=_init_sealer, initargs=([_seeds(o) for o in offices], str(store_root))
    ) as pool:
        batches = [range(s, min(s + step, conversations)) for s in range(0, conversations, step)]
        sealed = [c for batch in pool.map(_seal_batch, batches) for c in batch]
    entries = [e for number, s in enumerate(sealed) for e in _entries(number, s)]
    signer = log_signer(offices[0])
    log_path = folder / "exchange-log.db"
    appending = 0.0
    with ExchangeLog.open(log_path, office_id=OFFICE) as log:
        for start in range(0, len(entries), BATCH):
            batch = entries[start : start + BATCH]
            began = time.perf_counter()
            log.append_many(batch)
            appending += time.perf_counter() - began
            if (start + BATCH) % CHECKPOINT_EVERY == 0:
                log.checkpoint(signer, T0)
        singles = [LogEntry(EventType.DAEMON_STARTED, T0) for _ in range(300)]
        began = time.perf_counter()
        for single in singles:
            log.append(single)
        single_rate = len(singles) / (time.perf_counter() - began)
        log.checkpoint(signer, T0)
    return Fixture(
        log_path,
        store_root,
        directory,
        len(entries) + len(singles),
        4 * len(sealed),
        len(entries) / appending,
        single_rate,
    )


def best_of(runs: int, func: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - began)
    return best


def bare_hashing(log_path: Path) -> float:
    with ExchangeLog.open_existing(log_path) as log:
        data = [entry for _, entry in log.iter_entries()]
    sha256 = hashlib.sha256

    def run() -> None:
        for entry in data:
            sha256(entry).digest()

    return best_of(3, run)


def proofs(log_path: Path, size: int) -> dict[str, float]:
    rng = random.Random(7)  # noqa: S311 - picks proof indices, not secrets
    with ExchangeLog.open_existing(log_path) as log:
        indices = [rng.randrange(size) for _ in range(200)]
        began = time.perf_counter()
        for index in indices:
            log.inclusion_proof(index, size)
        inclusion = (time.perf_counter() - began) / len(indices)
        olds = [rng.randrange(1, size) for _ in range(200)]
        began = time.perf_counter()
        for old in olds:
            log.consistency_proof(old, size)
        consistency = (time.perf_counter() - began) / len(olds)
    return {"inclusion_ms": inclusion * 1000, "consistency_ms": consistency * 1000}


def run(target: int) -> dict[str, Any]:
    workers = default_workers()
    with tempfile.TemporaryDirectory(prefix="liaison-log-bench-") as tmp:
        began = time.perf_counter()
        fixture = build(Path(tmp), target, workers)
        setup = time.perf_counter() - began
        keys = DirectoryLogKeys(fixture.directory)
        bare = bare_hashing(fixture.log_path)

        def verify(*, full: bool, processes: int) -> float:
            report = verify_log(
                fixture.log_path,
                log_keys=keys,
                directory=fixture.directory,
                envelopes=fixture.store_root,
                full=full,
                workers=processes,
            )
            assert report.ok, report.problems[:5]
            return report.seconds

        structural = best_of(3, lambda: verify(full=False, processes=workers))
        structural_one = best_of(1, lambda: verify(full=False, processes=1))
        full = best_of(1, lambda: verify(full=True, processes=workers))
        proof_times = proofs(fixture.log_path, fixture.entries)
        size_bytes = fixture.log_path.stat().st_size
    n = fixture.entries
    return {
        "entries": n,
        "envelopes": fixture.envelopes,
        "workers": workers,
        "setup_s": round(setup, 1),
        "log_file_mb": round(size_bytes / 1e6, 1),
        "append_batched_entries_per_s": round(fixture.append_batched_per_s),
        "append_single_entries_per_s": round(fixture.append_single_per_s),
        "bare_sha256_s": round(bare, 3),
        "structural_verify_s": round(structural, 3),
        "structural_vs_bare_hashing": round(structural / bare, 2),
        "structural_verify_one_core_s": round(structural_one, 3),
        "structural_entries_per_s": round(n / structural),
        "full_verify_s": round(full, 2),
        "full_entries_per_s": round(n / full),
        "full_envelopes_per_s": round(fixture.envelopes / full),
        "inclusion_proof_ms": round(proof_times["inclusion_ms"], 3),
        "consistency_proof_ms": round(proof_times["consistency_ms"], 3),
        "targets": {
            "structural_within_2x_bare_hashing": structural / bare <= 2.0,
            "full_at_least_20000_entries_per_s": n / full >= 20_000,
        },
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 entries instead of 1,000,000")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--entries", type=int, help="another number of entries")
    args = parser.parse_args()
    target = args.entries or (50_000 if args.quick else 1_000_000)
    result = run(target)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    n, targets = result["entries"], result["targets"]
    lines = [
        (
            f"exchange log, {n:,} entries naming {result['envelopes']:,} envelopes, "
            f"{result['workers']} worker(s); fixture built in {result['setup_s']} s"
        ),
        (
            f"  append, durable, batches of {BATCH}:   "
            f"{result['append_batched_entries_per_s']:>9,} entries/s"
        ),
        (
            f"  append, durable, one per transaction: "
            f"{result['append_single_entries_per_s']:>9,} entries/s"
        ),
        f"  bare sha256 of the same entry bytes:  {result['bare_sha256_s']:>9.3f} s  (baseline)",
        (
            f"  verify, structural:                   {result['structural_verify_s']:>9.3f} s  "
            f"{result['structural_vs_bare_hashing']:.2f}x bare hashing "
            f"({result['structural_entries_per_s']:,} entries/s; "
            f"one core {result['structural_verify_one_core_s']:.3f} s)"
        ),
        (
            f"  verify, full (every envelope):        {result['full_verify_s']:>9.2f} s  "
            f"{result['full_entries_per_s']:,} entries/s, "
            f"{result['full_envelopes_per_s']:,} envelopes/s"
        ),
        (
            f"  proofs at {n:,}: inclusion {result['inclusion_proof_ms']:.3f} ms, "
            f"consistency {result['consistency_proof_ms']:.3f} ms"
        ),
        (
            "  targets: structural within 2x bare hashing: "
            + ("met" if targets["structural_within_2x_bare_hashing"] else "NOT met")
            + "; full >= 20,000 entries/s: "
            + ("met" if targets["full_at_least_20000_entries_per_s"] else "NOT met")
        ),
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

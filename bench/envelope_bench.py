"""Envelope seal/open speed beside joserfc's nested JWS-in-JWE, measured in the same run.

    .venv/bin/python -m bench.envelope_bench            # full: about a minute
    .venv/bin/python -m bench.envelope_bench --quick    # a few seconds, for routine checks
    .venv/bin/python -m bench.envelope_bench --json     # the figures as one JSON document

The baseline is what a team would otherwise build: a compact JWS (Ed25519, RFC 9864's
fully-specified name for EdDSA on Ed25519) nested in a JWE (ECDH-ES+A256KW, A256GCM), one JWE
recipient entry per addressee (general JSON serialization), opened as one recipient would (its
flattened view). Both sides sign, encrypt to every recipient, and verify + decrypt on open.
Everything runs in this one process, on one core. Ratios are what we quote; the absolute
figures depend on the machine and are printed for context only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc import jwe, jws
from joserfc.jwk import OKPKey

from broker.envelope import MessageKind, Recipient, StaticDirectory, Suite, open_envelope, seal
from broker.keys.model import OfficeKeys

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
JWE_ALGS = ["ECDH-ES+A256KW", "A256GCM"]
JWS_ALGS = ["Ed25519"]
# joserfc caps payloads at 64 KiB by default; raise the caps to our 16 MiB envelope limit.
JWE_REGISTRY = jwe.JWERegistry(algorithms=JWE_ALGS)
JWE_REGISTRY.max_ciphertext_length = 32 * 1024 * 1024
JWS_REGISTRY = jws.JWSRegistry(algorithms=JWS_ALGS)
JWS_REGISTRY.max_payload_length = 32 * 1024 * 1024


@dataclass(frozen=True)
class Figure:
    case: str
    liaison_per_s: float
    baseline_per_s: float
    payload_bytes: int

    @property
    def ratio(self) -> float:
        return self.liaison_per_s / self.baseline_per_s


def rate(func: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``func``: the best of three runs of about ``seconds / 3`` each."""
    func()  # warm up
    best = 0.0
    for _ in range(3):
        calls, start = 0, time.perf_counter()
        deadline = start + seconds / 3
        while True:
            func()
            calls += 1
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, calls / (now - start))
    return best


class Liaison:
    def __init__(self, n_recipients: int, suite: Suite) -> None:
        pq = suite is Suite.V1_PQ
        self.sender = OfficeKeys.generate("CN-YN-BLO-HK")
        self.offices = [OfficeKeys.generate(f"VN-BCA-C{i:02d}", pq=pq) for i in range(n_recipients)]
        self.recipients = [Recipient(o.office_id, suite, o.public()) for o in self.offices]
        publics = [self.sender.public(), *(o.public() for o in self.offices)]
        self.directory = StaticDirectory.of(1, publics)

    def seal(self, payload: bytes) -> bytes:
        return seal(
            payload,
            kind=MessageKind.ENQUIRY,
            sender=self.sender,
            recipients=self.recipients,
            directory_version=1,
            now=NOW,
        )

    def open(self, envelope: bytes) -> bytes:
        return open_envelope(envelope, self.offices[-1], self.directory, now=NOW).payload


class Jose:
    def __init__(self, n_recipients: int) -> None:
        self.signing = OKPKey.generate_key("Ed25519")
        self.keys = [
            OKPKey.generate_key("X25519", parameters={"kid": f"k{i}"}) for i in range(n_recipients)
        ]

    def seal(self, payload: bytes) -> dict[str, Any]:
        token = jws.serialize_compact(
            {"alg": "Ed25519"}, payload, self.signing, algorithms=JWS_ALGS
        )
        obj = jwe.GeneralJSONEncryption({"enc": "A256GCM"}, token.encode())
        for key in self.keys:
            obj.add_recipient({"alg": "ECDH-ES+A256KW", "kid": key.kid}, key)
        return dict(jwe.encrypt_json(obj, None, registry=JWE_REGISTRY))

    def open(self, general: dict[str, Any]) -> bytes:
        # What the last recipient receives: the shared parts plus its own recipient entry.
        flat = {k: v for k, v in general.items() if k != "recipients"} | general["recipients"][-1]
        inner = jwe.decrypt_json(flat, self.keys[-1], registry=JWE_REGISTRY).plaintext
        assert inner is not None
        return jws.deserialize_compact(inner, self.signing, registry=JWS_REGISTRY).payload


def _pair(case: str, ours: Liaison, theirs: Jose, payload: bytes, seconds: float) -> list[Figure]:
    sealed, token = ours.seal(payload), theirs.seal(payload)
    assert ours.open(sealed) == payload
    assert theirs.open(token) == payload
    return [
        Figure(
            f"seal {case}",
            rate(lambda: ours.seal(payload), seconds),
            rate(lambda: theirs.seal(payload), seconds),
            len(payload),
        ),
        Figure(
            f"open {case}",
            rate(lambda: ours.open(sealed), seconds),
            rate(lambda: theirs.open(token), seconds),
            len(payload),
        ),
    ]


def measure(
    seconds: float, quick: bool, recipients: tuple[int, ...] = (1, 8), pq: bool = True
) -> list[Figure]:
    figures: list[Figure] = []
    small = os.urandom(2048)
    for n in recipients:
        figures += _pair(f"2 KiB, {n} recipient(s)", Liaison(n, Suite.V1), Jose(n), small, seconds)
    for n in (1, 8) if pq else ():
        case = f"2 KiB, {n} recipient(s), liaison-v1-pq"
        figures += _pair(case, Liaison(n, Suite.V1_PQ), Jose(n), small, seconds)
    for size in (64 * 1024,) if quick else (64 * 1024, 4 * 1024 * 1024):
        label = f"{size // 1024} KiB" if size < 1 << 20 else f"{size >> 20} MiB"
        big = os.urandom(size)
        figures += _pair(f"{label}, 1 recipient", Liaison(1, Suite.V1), Jose(1), big, seconds)
    return figures


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cpu, Python {platform.python_version()}"


def run(
    quick: bool,
    *,
    seconds: float | None = None,
    recipients: tuple[int, ...] = (1, 8),
    pq: bool = True,
) -> dict[str, Any]:
    """The figures as one JSON-ready document (what ``--json`` prints; bench.run uses it)."""
    figures = measure(seconds or (0.6 if quick else 3.0), quick, recipients, pq)
    return {
        "benchmark": "envelope",
        "machine": machine(),
        "figures": [asdict(f) | {"ratio": f.ratio} for f in figures],
    }


def render(figures: list[Figure]) -> str:
    lines = ["| case | liaison | joserfc JWS-in-JWE | ratio |", "|---|---:|---:|---:|"]
    for f in figures:
        if f.payload_bytes >= 64 * 1024:
            ours = f"{f.liaison_per_s * f.payload_bytes / 1e6:,.1f} MB/s"
            theirs = f"{f.baseline_per_s * f.payload_bytes / 1e6:,.1f} MB/s"
        else:
            ours, theirs = f"{f.liaison_per_s:,.0f}/s", f"{f.baseline_per_s:,.0f}/s"
        lines.append(f"| {f.case} | {ours} | {theirs} | {f.ratio:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, 64 KiB only")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(run(args.quick), indent=2))
    else:
        figures = measure(0.6 if args.quick else 3.0, args.quick)
        print(f"Envelope seal/open vs joserfc, one process, one core ({machine()})")
        print(render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

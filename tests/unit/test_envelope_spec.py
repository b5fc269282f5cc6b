"""docs/envelope.md and the code say the same: labels, reasons, kinds, limits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from broker.envelope import Limits, MessageKind, Suite
from broker.envelope import labels as envelope_labels
from broker.errors import RejectReason
from broker.keys.model import KEY_ID_LABEL
from broker.pb import envelope_pb2 as pb

SPEC = (Path(__file__).resolve().parents[2] / "docs" / "envelope.md").read_text(encoding="utf-8")
LABELS = [
    envelope_labels.SIGNATURE_LABEL,
    envelope_labels.WRAP_LABEL,
    envelope_labels.COMMITMENT_LABEL,
    KEY_ID_LABEL,
    *(s.value.encode() for s in Suite),
]


@pytest.mark.parametrize("label", LABELS, ids=[label.decode() for label in LABELS])
def test_every_label_is_in_the_spec_with_its_hex(label: bytes) -> None:
    row = f"| `{label.decode()}` | {len(label)} | `{label.hex()}` |"
    assert row in SPEC


def test_no_domain_label_is_a_prefix_of_another() -> None:
    domain_labels = LABELS[:4]
    for a in domain_labels:
        for b in domain_labels:
            assert a == b or not b.startswith(a), (a, b)


@pytest.mark.parametrize("reason", [r for r in RejectReason if r is not RejectReason.POLICY])
def test_every_envelope_reason_is_in_the_spec_table(reason: RejectReason) -> None:
    assert f"\n| `{reason.value}` | " in SPEC


def test_message_kind_mirrors_the_proto_enum() -> None:
    proto = {
        name.removeprefix("MESSAGE_KIND_"): number
        for name, number in pb.MessageKind.items()
        if number != pb.MESSAGE_KIND_UNSPECIFIED
    }
    assert proto == {k.name: k.value for k in MessageKind}
    for kind in MessageKind:
        assert f"`MESSAGE_KIND_{kind.name} = {kind.value}`" in SPEC


def test_limit_defaults_are_the_documented_ones() -> None:
    limits = Limits()
    assert limits.max_envelope_bytes == 16 * 1024 * 1024
    assert limits.max_recipients == 64
    assert limits.max_clock_skew == timedelta(minutes=5)
    assert limits.max_lifetime == timedelta(days=30)
    for row in ("| `max_envelope_bytes` | 16 MiB", "| `max_recipients` | 64 |",
                "| `max_clock_skew` | 5 minutes |", "| `max_lifetime` | 30 days |"):  # fmt: skip
        assert row in SPEC

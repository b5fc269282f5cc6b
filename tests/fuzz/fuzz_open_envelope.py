"""Fuzz the envelope opener: whatever the input, only PeerError may come out.

    .venv/bin/python tests/fuzz/fuzz_open_envelope.py [libFuzzer options] [corpus dirs]

The first byte picks a mode:

* even: the rest is an envelope, given to ``open_envelope`` (as an addressee),
  ``verify_envelope``, ``open_with_cek`` and ``peek_header``;
* odd: the rest drives changes to a valid header (fields set to fuzzed values, recipients
  added or dropped) and a fuzzed ciphertext; the result is *signed by the sender*, so the
  fuzzer reaches every check after the signature: times, recipients, unwrap, commitment,
  decryption.

Any exception other than PeerError is a crash. tests/unit/test_envelope_fuzz.py runs this for a
few thousand iterations; run it longer by hand with ``-max_total_time=600``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # for tests.vectors

with atheris.instrument_imports():
    from broker.envelope import open_envelope, open_with_cek, peek_header, verify_envelope
    from broker.envelope.header import encode_envelope
    from broker.envelope.pae import signed_input
    from broker.errors import PeerError
    from broker.pb import envelope_pb2 as pb
    from tests.vectors.generate_envelope import DIRECTORY, KEYS, NOW, SENDER, TH, _seal

BASE = _seal("fuzz", [TH])
BASE_OUTER = pb.Envelope.FromString(BASE)
CEK = open_envelope(BASE, KEYS[TH], DIRECTORY, now=NOW).cek
SUITES = ["liaison-v1", "liaison-v1-pq", "", "liaison-v2"]
OFFICES = [TH, SENDER, "", "X" * 300]


def _everything(data: bytes) -> None:
    for call in (
        lambda: open_envelope(data, KEYS[TH], DIRECTORY, now=NOW, seen={b"\x00" * 16}),
        lambda: verify_envelope(data, DIRECTORY),
        lambda: open_with_cek(data, CEK, DIRECTORY),
        lambda: peek_header(data),
    ):
        with contextlib.suppress(PeerError):
            call()


def _fuzzed_bytes(fdp: atheris.FuzzedDataProvider) -> bytes:
    return bytes(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 1200)))


Change = Callable[[atheris.FuzzedDataProvider, pb.EnvelopeHeader], None]


def _add_recipient(fdp: atheris.FuzzedDataProvider, inner: pb.EnvelopeHeader) -> None:
    entry = inner.recipients.add()
    entry.CopyFrom(inner.recipients[0])
    entry.office_id = fdp.PickValueInList(OFFICES)


def _drop_recipient(_: atheris.FuzzedDataProvider, inner: pb.EnvelopeHeader) -> None:
    del inner.recipients[0]


def _set(field: str, value: Callable[[atheris.FuzzedDataProvider], object]) -> Change:
    return lambda fdp, inner: setattr(inner, field, value(fdp))


def _set_entry(field: str, value: Callable[[atheris.FuzzedDataProvider], object]) -> Change:
    return lambda fdp, inner: setattr(inner.recipients[0], field, value(fdp))


CHANGES: list[Change] = [
    _set("version", lambda fdp: fdp.ConsumeIntInRange(0, 3)),
    _set("suite", lambda fdp: fdp.PickValueInList(SUITES)),
    _set("message_id", _fuzzed_bytes),
    _set("kind", lambda fdp: fdp.ConsumeIntInRange(0, 7)),
    _set("created_at_ms", lambda fdp: fdp.ConsumeInt(8)),
    _set("expires_at_ms", lambda fdp: fdp.ConsumeInt(8)),
    _set("sender", lambda fdp: fdp.PickValueInList(OFFICES)),
    _set("nonce", _fuzzed_bytes),
    _set("commitment", _fuzzed_bytes),
    _set_entry("office_id", lambda fdp: fdp.PickValueInList(OFFICES)),
    _set_entry("key_id", _fuzzed_bytes),
    _set_entry("enc", _fuzzed_bytes),
    _set_entry("wrapped_cek", _fuzzed_bytes),
    _add_recipient,
    _drop_recipient,
]


def _signed_variant(fdp: atheris.FuzzedDataProvider) -> bytes:
    inner = pb.EnvelopeHeader.FromString(BASE_OUTER.header)
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        if not inner.recipients:
            inner.recipients.add()
        CHANGES[fdp.ConsumeIntInRange(0, len(CHANGES) - 1)](fdp, inner)
    header = inner.SerializeToString(deterministic=True)
    ciphertext = BASE_OUTER.ciphertext if fdp.ConsumeBool() else _fuzzed_bytes(fdp)
    signature = KEYS[SENDER].signing.sign(signed_input(header, ciphertext))
    return encode_envelope(header, ciphertext, signature)


def test_one_input(data: bytes) -> None:
    if not data or data[0] % 2 == 0:
        _everything(data[1:])
        return
    _everything(_signed_variant(atheris.FuzzedDataProvider(data[1:])))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

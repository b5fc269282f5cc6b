"""Generate the envelope test vectors in tests/vectors/envelope/, or check them.

    python tests/vectors/generate_envelope.py           rewrite keys, valid and invalid .json
    python tests/vectors/generate_envelope.py --check   regenerate in memory; exit 1 on a difference

Everything is fixed: demo key seeds (committed in keys.json), a deterministic rng per case
(SHA-256 in counter mode, see ``CounterRng``) and the time ``NOW``. Suite ``liaison-v1`` is
therefore byte-for-byte reproducible. Suite ``liaison-v1-pq`` is not (cryptography's HPKE draws
its own ephemeral randomness): its committed envelope is checked by opening it with the fixed
keys and comparing every deterministic value, and is kept on regeneration while it passes.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from broker.envelope import (
    Limits,
    MessageKind,
    Recipient,
    StaticDirectory,
    Suite,
    open_envelope,
    seal,
)
from broker.envelope.header import encode_envelope, to_ms
from broker.envelope.pae import signed_input, wrap_info
from broker.envelope.payload import encrypt_payload
from broker.envelope.suite import wrap_cek
from broker.keys.model import OfficeKeys
from broker.pb import envelope_pb2 as pb

OUT = Path(__file__).resolve().parent / "envelope"
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LIFETIME = timedelta(days=7)
DIRECTORY_VERSION = 42
SKEW = Limits().max_clock_skew

SENDER, TH, LA, MM = "CN-YN-BLO-HK", "TH-CMI-LO-01", "LA-VTE-LO-01", "MM-MDY-LO-01"
OUTSIDER = "VN-HAN-LO-01"  # listed in the directory, never addressed
ROGUE = "XX-ROGUE-01"  # not in the directory
OFFICES = (SENDER, TH, LA, MM, OUTSIDER, ROGUE)
PQ_OFFICES = frozenset({MM})
PAYLOAD = b"DEMO enquiry 0001: please confirm the keeper of vehicle DEMO-PLATE-0001. Not real."

Envelope = bytes
Case = dict[str, Any]


class CounterRng:
    """Deterministic rng: the stream SHA-256(seed || u64be(0)) || SHA-256(seed || u64be(1)) || ...

    Successive draws take successive bytes of the stream.
    """

    def __init__(self, seed: bytes) -> None:
        self._seed, self._counter, self._buffer = seed, 0, b""

    def __call__(self, n: int) -> bytes:
        while len(self._buffer) < n:
            block = self._seed + self._counter.to_bytes(8, "big")
            self._buffer += hashlib.sha256(block).digest()
            self._counter += 1
        drawn, self._buffer = self._buffer[:n], self._buffer[n:]
        return drawn


def case_seed(name: str) -> bytes:
    return hashlib.sha256(b"liaison-v1 envelope vectors\x00" + name.encode()).digest()


def demo_seed(office: str, role: str, length: int = 32) -> bytes:
    out = b""
    while len(out) < length:
        data = f"liaison-v1 demo key seed\x00{office}\x00{role}\x00{len(out) // 32}"
        out += hashlib.sha256(data.encode()).digest()
    return out[:length]


def demo_keys() -> dict[str, OfficeKeys]:
    """The demo offices' private keys, rebuilt from their seeds."""
    keys = {}
    for office in OFFICES:
        pq = office in PQ_OFFICES
        keys[office] = OfficeKeys.from_seeds(
            office,
            signing=demo_seed(office, "signing"),
            encryption=demo_seed(office, "encryption"),
            hybrid_mlkem=demo_seed(office, "hybrid-mlkem", 64) if pq else None,
            hybrid_x25519=demo_seed(office, "hybrid-x25519") if pq else None,
        )
    return keys


KEYS = demo_keys()
DIRECTORY = StaticDirectory.of(DIRECTORY_VERSION, (KEYS[o].public() for o in OFFICES[:-1]))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seal(
    name: str, recipients: Iterable[str], *, suite: Suite = Suite.V1, sender: str = SENDER
) -> bytes:
    return seal(
        PAYLOAD,
        kind=MessageKind.ENQUIRY,
        sender=KEYS[sender],
        recipients=[Recipient(o, suite, KEYS[o].public()) for o in recipients],
        directory_version=DIRECTORY_VERSION,
        now=NOW,
        lifetime=LIFETIME,
        rng=CounterRng(case_seed(name)),
    )


# ---------------------------------------------------------------- valid cases


def _expected(name: str, envelope: bytes, recipients: list[str], suite: Suite) -> dict[str, Any]:
    """What opening must give, computed from the rng stream and the spec, not by the library."""
    rng = CounterRng(case_seed(name))
    message_id, cek, nonce = rng(16), rng(32), rng(24)  # the draw order of docs/envelope.md
    public = {o: KEYS[o].public() for o in recipients}
    key_ids = {
        o: (p.encryption_key_id if suite is Suite.V1 else p.hybrid_key_id)
        for o, p in public.items()
    }
    tag = hmac.digest(cek, b"liaison-v1 key commitment" + message_id, hashlib.sha256)
    return {
        "payload": PAYLOAD.hex(),
        "cek": cek.hex(),
        "digest": hashlib.sha256(envelope).hexdigest(),
        "header": {
            "version": 1,
            "suite": suite.value,
            "message_id": message_id.hex(),
            "kind": "ENQUIRY",
            "created_at": iso(NOW),
            "expires_at": iso(NOW + LIFETIME),
            "sender": SENDER,
            "sender_key_id": KEYS[SENDER].public().signing_key_id.hex(),
            "directory_version": DIRECTORY_VERSION,
            "recipients": [
                {"office_id": o, "key_id": (key_ids[o] or b"").hex()} for o in recipients
            ],
            "nonce": nonce.hex(),
            "commitment": tag.hex(),
        },
    }


def _intermediate(envelope: bytes, expected: Mapping[str, Any]) -> dict[str, Any]:
    """The parts and derived inputs, for implementers stepping through the spec."""
    outer = pb.Envelope.FromString(envelope)
    head = expected["header"]
    infos = {
        r["office_id"]: wrap_info(
            head["suite"], bytes.fromhex(head["message_id"]), head["sender"], r["office_id"]
        ).hex()
        for r in head["recipients"]
    }
    return {
        "header": outer.header.hex(),
        "ciphertext": outer.ciphertext.hex(),
        "signature": outer.signature.hex(),
        "signed_input": signed_input(outer.header, outer.ciphertext).hex(),
        "hpke_info": infos,
    }


def _valid_case(
    name: str, description: str, recipients: list[str], envelope: bytes, suite: Suite
) -> Case:
    expected = _expected(name, envelope, recipients, suite)
    case: Case = {
        "name": name,
        "description": description,
        "rng_seed": case_seed(name).hex(),
        "envelope": envelope.hex(),
        "openers": recipients,
        "now": iso(NOW),
        "seen": [],
        "limits": {},
        "windows": {},
        "expected": {"outcome": "opened", **expected},
    }
    if suite is Suite.V1:
        case["intermediate"] = _intermediate(envelope, expected)
    return case


def pq_problems(case: Case, envelope: bytes) -> list[str]:
    """Why a committed pq envelope does not open to the case's deterministic values (if so)."""
    expected = case["expected"]
    try:
        opened = open_envelope(envelope, KEYS[MM], DIRECTORY, now=NOW)
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        return [f"{case['name']}: does not open: {exc!r}"]
    head = expected["header"]
    got = {
        "payload": opened.payload.hex(),
        "cek": opened.cek.hex(),
        "message_id": opened.header.message_id.hex(),
        "nonce": opened.header.nonce.hex(),
        "commitment": opened.header.commitment.hex(),
        "times": [iso(opened.header.created_at), iso(opened.header.expires_at)],
        "recipients": [
            {"office_id": r.office_id, "key_id": r.key_id.hex()} for r in opened.header.recipients
        ],
    }
    want = {
        "payload": expected["payload"],
        "cek": expected["cek"],
        "message_id": head["message_id"],
        "nonce": head["nonce"],
        "commitment": head["commitment"],
        "times": [head["created_at"], head["expires_at"]],
        "recipients": head["recipients"],
    }
    return [f"{case['name']}: {k} differs" for k in want if got[k] != want[k]]


def valid_cases(committed_pq: bytes | None) -> tuple[list[Case], list[str]]:
    """The valid cases; the pq one reuses ``committed_pq`` when it still opens as expected."""
    single = _valid_case(
        "v1-single-recipient",
        "liaison-v1, one recipient.",
        [TH],
        _seal("v1-single-recipient", [TH]),
        Suite.V1,
    )
    multi = _valid_case(
        "v1-three-recipients",
        "liaison-v1, three recipients; each opens the same payload with the same CEK.",
        [TH, LA, MM],
        _seal("v1-three-recipients", [TH, LA, MM]),
        Suite.V1,
    )
    name = "v1-pq-single-recipient"
    description = (
        "liaison-v1-pq, one recipient. NOT byte-reproducible (cryptography's HPKE draws the "
        "ephemeral randomness): check by opening, not by comparing bytes."
    )
    fresh = _seal(name, [MM], suite=Suite.V1_PQ)
    pq = _valid_case(name, description, [MM], fresh, Suite.V1_PQ)
    problems: list[str] = []
    if committed_pq is not None:
        probe = _valid_case(name, description, [MM], committed_pq, Suite.V1_PQ)
        problems = pq_problems(probe, committed_pq)
        if not problems:
            pq = probe
    return [single, multi, pq], problems


# ---------------------------------------------------------------- invalid cases


def tamper(
    name: str,
    recipients: list[str],
    *,
    header: Callable[[pb.EnvelopeHeader], None] | None = None,
    header_bytes: Callable[[bytes], bytes] | None = None,
    ciphertext: Callable[[bytes], bytes] | None = None,
    signer: str | None = SENDER,
) -> bytes:
    """A valid envelope changed as a malicious or broken sender would, then (re-)signed.

    The payload is re-encrypted under the changed header, so that the change under test is the
    only fault. ``signer=None`` keeps the original signature (a change in transit).
    """
    original = _seal(name, recipients)
    cek = CounterRng(case_seed(name))(48)[16:]  # message id (16) is drawn first, then the CEK
    outer = pb.Envelope.FromString(original)
    inner = pb.EnvelopeHeader.FromString(outer.header)
    nonce = inner.nonce
    if header is not None:
        header(inner)
    raw = inner.SerializeToString(deterministic=True)
    if header_bytes is not None:
        raw = header_bytes(raw)
    if len(inner.nonce) == len(nonce):  # else keep the old one: the change under test is the nonce
        nonce = inner.nonce
    body = encrypt_payload(cek, nonce, PAYLOAD, raw)
    if ciphertext is not None:
        body = ciphertext(body)
    signature = (
        outer.signature if signer is None else KEYS[signer].signing.sign(signed_input(raw, body))
    )
    return encode_envelope(raw, body, signature)


def _flip_last_bit(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def wrap_other_cek(inner: pb.EnvelopeHeader) -> None:
    """Give TH a CEK other than the committed one: the attack the commitment stops."""
    entry = inner.recipients[0]
    info = wrap_info(inner.suite, inner.message_id, inner.sender, entry.office_id)
    other_cek = b"\x42" * 32
    enc, wrapped = wrap_cek(Suite.V1, other_cek, KEYS[TH].public(), info, CounterRng(b"other"))
    entry.enc, entry.wrapped_cek = enc, wrapped


def _window(**moments: datetime) -> dict[str, dict[str, str | None]]:
    key = KEYS[SENDER].public().signing_key_id.hex()
    names = ("not_before", "not_after", "revoked_at")
    return {key: {n: (iso(moments[n]) if n in moments else None) for n in names}}


def _set(field: str, value: object) -> Callable[[pb.EnvelopeHeader], None]:
    def change(inner: pb.EnvelopeHeader) -> None:
        setattr(inner, field, value)

    return change


def _duplicate_first_recipient(inner: pb.EnvelopeHeader) -> None:
    inner.recipients.add().CopyFrom(inner.recipients[0])


def _other_key_id(inner: pb.EnvelopeHeader) -> None:
    inner.recipients[0].key_id = KEYS[OUTSIDER].public().encryption_key_id


def invalid_cases() -> list[Case]:
    """One case per rejection reason at least, each with what to open it with and the reason."""
    one, three = [TH], [TH, LA, MM]
    base = _seal("base", one)
    base_id = CounterRng(case_seed("base"))(16)
    lifetime_ms = to_ms(NOW + timedelta(days=31))
    specs: list[tuple[str, str, str, bytes, dict[str, Any]]] = [
        ("oversize", "oversize", "Larger than max_envelope_bytes (256 here).", base,
         {"limits": {"max_envelope_bytes": 256}}),
        ("oversize-recipients", "oversize", "More recipients than max_recipients (2 here).",
         _seal("oversize-recipients", three), {"limits": {"max_recipients": 2}}),
        ("malformed-truncated", "malformed", "The last byte is missing: not protobuf.",
         base[:-1], {}),
        ("malformed-unknown-header-field", "malformed",
         "Header carries an unknown field 99 (not canonical), signed.",
         tamper("malformed-unknown-header-field", one, header_bytes=lambda r: r + b"\x98\x06\x01"),
         {}),
        ("malformed-duplicate-recipient", "malformed", "The same office listed twice, signed.",
         tamper("malformed-duplicate-recipient", one, header=_duplicate_first_recipient), {}),
        ("malformed-lifetime", "malformed", "expires_at - created_at is 31 days > 30, signed.",
         tamper("malformed-lifetime", one, header=_set("expires_at_ms", lifetime_ms)), {}),
        ("malformed-kind-unspecified", "malformed", "kind is 0 (UNSPECIFIED), signed.",
         tamper("malformed-kind-unspecified", one, header=_set("kind", 0)), {}),
        ("unsupported-version", "unsupported-version", "Header version 2, signed.",
         tamper("unsupported-version", one, header=_set("version", 2)), {}),
        ("unsupported-suite", "unsupported-suite", "Suite 'liaison-v2', signed.",
         tamper("unsupported-suite", one, header=_set("suite", "liaison-v2")), {}),
        ("unknown-sender", "unknown-sender", f"Sealed by {ROGUE}, which the directory lacks.",
         _seal("unknown-sender", one, sender=ROGUE), {}),
        ("sender-key-expired", "sender-key-expired",
         "The sender's key stopped being valid a day before created_at.", base,
         {"windows": _window(not_after=NOW - timedelta(days=1))}),
        ("sender-key-not-yet-valid", "sender-key-not-yet-valid",
         "The sender's key becomes valid a day after created_at.", base,
         {"windows": _window(not_before=NOW + timedelta(days=1))}),
        ("sender-key-revoked", "sender-key-revoked",
         "The sender's key was revoked an hour before created_at.", base,
         {"windows": _window(revoked_at=NOW - timedelta(hours=1))}),
        ("bad-signature", "bad-signature", "Last bit of the signature flipped.",
         base[:-1] + bytes([base[-1] ^ 0x01]), {}),
        ("bad-signature-ciphertext-changed", "bad-signature",
         "Ciphertext changed after signing (signature kept).",
         tamper("base", one, ciphertext=_flip_last_bit, signer=None), {}),
        ("bad-signature-other-signer", "bad-signature",
         f"Claims {SENDER} but signed with {OUTSIDER}'s key.",
         tamper("bad-signature-other-signer", one, signer=OUTSIDER), {}),
        ("from-the-future", "from-the-future",
         "Opened 1 ms before created_at - max_clock_skew.", base,
         {"now": iso(NOW - SKEW - timedelta(milliseconds=1))}),
        ("expired", "expired", "Opened at exactly expires_at + max_clock_skew.", base,
         {"now": iso(NOW + LIFETIME + SKEW)}),
        ("replay", "replay", "Its message id is in the seen set.", base,
         {"seen": [base_id.hex()]}),
        ("not-a-recipient", "not-a-recipient", f"Opened by {OUTSIDER}, which is not addressed.",
         base, {"openers": [OUTSIDER]}),
        ("not-a-recipient-other-key", "not-a-recipient",
         "TH's entry names a key id TH does not hold, signed.",
         tamper("not-a-recipient-other-key", one, header=_other_key_id), {}),
        ("commitment-mismatch", "commitment-mismatch",
         "TH's wrapped CEK is not the committed CEK (payload matches it), signed.",
         tamper("commitment-mismatch", one, header=wrap_other_cek), {}),
        ("decryption-failed-wrapped-cek", "decryption-failed",
         "TH's wrapped CEK has its last bit flipped, signed.",
         tamper("decryption-failed-wrapped-cek", one,
                header=lambda h: setattr(h.recipients[0], "wrapped_cek",
                                         _flip_last_bit(h.recipients[0].wrapped_cek))), {}),
        ("decryption-failed-payload", "decryption-failed",
         "Payload ciphertext's tag altered before signing, signed.",
         tamper("decryption-failed-payload", one, ciphertext=_flip_last_bit), {}),
    ]  # fmt: skip
    cases = []
    for name, reason, description, envelope, overrides in specs:
        cases.append(
            {
                "name": name,
                "description": description,
                "envelope": envelope.hex(),
                "openers": overrides.get("openers", [TH]),
                "now": overrides.get("now", iso(NOW)),
                "seen": overrides.get("seen", []),
                "limits": overrides.get("limits", {}),
                "windows": overrides.get("windows", {}),
                "expected": {"outcome": "rejected", "reason": reason},
            }
        )
    return cases


# ---------------------------------------------------------------- documents


def keys_document() -> dict[str, Any]:
    offices = []
    for office in OFFICES:
        public = KEYS[office].public()
        pq = office in PQ_OFFICES
        entry: dict[str, Any] = {
            "office_id": office,
            "in_directory": office != ROGUE,
            "seeds": {
                "signing": demo_seed(office, "signing").hex(),
                "encryption": demo_seed(office, "encryption").hex(),
                "hybrid_mlkem": demo_seed(office, "hybrid-mlkem", 64).hex() if pq else None,
                "hybrid_x25519": demo_seed(office, "hybrid-x25519").hex() if pq else None,
            },
            "public": {
                "signing": public.signing.hex(),
                "encryption": public.encryption.hex(),
                "hybrid": public.hybrid.raw().hex() if public.hybrid else None,
            },
            "key_ids": {
                "signing": public.signing_key_id.hex(),
                "encryption": public.encryption_key_id.hex(),
                "hybrid": (public.hybrid_key_id or b"").hex() or None,
            },
        }
        offices.append(entry)
    return {
        "warning": "DEMO KEYS ONLY. Published seeds: never use these keys for real traffic.",
        "directory_version": DIRECTORY_VERSION,
        "offices": offices,
    }


def _text(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _committed_pq() -> bytes | None:
    try:
        cases = json.loads((OUT / "valid.json").read_text(encoding="utf-8"))["cases"]
        return bytes.fromhex(next(c for c in cases if "pq" in c["name"])["envelope"])
    except (OSError, ValueError, KeyError, StopIteration):
        return None


def build() -> tuple[dict[str, str], list[str]]:
    """Every vector file's text, and what is wrong with the committed pq envelope (if any)."""
    valid, pq_trouble = valid_cases(_committed_pq())
    about = {"now": iso(NOW), "directory_version": DIRECTORY_VERSION, "keys": "keys.json"}
    documents = {
        "keys.json": _text(keys_document()),
        "valid.json": _text({**about, "cases": valid}),
        "invalid.json": _text({**about, "cases": invalid_cases()}),
    }
    return documents, pq_trouble


def check() -> list[str]:
    """Problems found: files that differ from a fresh generation, and pq envelopes that fail."""
    documents, problems = build()
    for name, text in documents.items():
        path = OUT / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            problems.append(f"tests/vectors/envelope/{name} differs from what the generator makes")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = parser.parse_args()
    if args.check:
        problems = check()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    documents, _ = build()
    for name, text in documents.items():
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(documents)} files in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

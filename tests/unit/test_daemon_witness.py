"""Witnessing partners' logs: every verdict of ``judge``, opening partners' checkpoints and
checking their cosignatures of ours, the CheckpointExchange payload, the witness tables, and
how the decision core treats CHECKPOINT envelopes (accepted, never receipted)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.daemon import Accepted, examine, plan_acceptance
from broker.daemon.witness import (
    AlarmReason,
    AlreadyCosigned,
    Cosign,
    ForkAlarm,
    Rebase,
    Stale,
    check_cosignature,
    cosigner_verifiers,
    held_checkpoint,
    judge,
    log_verifiers,
    open_partner_checkpoint,
)
from broker.envelope import MessageKind
from broker.errors import IntegrityError, InvalidMessage
from broker.exchange_log import EventType, LogEntry, log_signer
from broker.ledger import (
    Checkpoint,
    Cosigner,
    Ed25519Signer,
    Ed25519Verifier,
    MemoryNodeStore,
    TreeState,
    VerifiedCheckpoint,
    add_cosignatures,
    consistency_proof,
    cosign_checkpoint,
    leaf_hash,
    office_cosigner_name,
    office_origin,
    open_checkpoint,
    sign_checkpoint,
    verify_checkpoint_consistency,
)
from broker.ledger.note import open_note, verify_ed25519
from broker.model.checkpoint_exchange import CheckpointExchange
from broker.office_store import InboxState, OfficeStore
from broker.office_store.records import Outgoing
from broker.office_store.witness import ForkAlarmRow, WitnessStore
from tests.unit.test_daemon_decisions import (
    DIRECTORY,
    HK,
    KEYS,
    NOW,
    VN,
    VN_CONTEXT,
    Known,
    arrival,
    rejected,
    sealed,
)

NETWORK = "liaison.example"
ORIGIN = office_origin(NETWORK, HK)
SIGNER = log_signer(KEYS[HK], network=NETWORK)
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "log"


class Log:
    """A partner's log in memory: its tree, and checkpoints signed with its real demo key."""

    def __init__(self, entries: int = 0, *, prefix: bytes = b"entry") -> None:
        self.tree = TreeState()
        self.nodes = MemoryNodeStore()
        self.prefix = prefix
        self.grow(entries)

    def grow(self, count: int) -> None:
        for _ in range(count):
            leaf = leaf_hash(self.prefix + b" %d" % self.tree.size)
            self.nodes.add(self.tree.append(leaf))

    def checkpoint(self, signer: Ed25519Signer = SIGNER) -> VerifiedCheckpoint:
        note = sign_checkpoint(Checkpoint(ORIGIN, self.tree.size, self.tree.root()), signer)
        return open_checkpoint(note, origin=ORIGIN, log_key=signer.verifier())

    def proof(self, old: int) -> tuple[bytes, ...]:
        return consistency_proof(self.nodes, old, self.tree.size).hashes


# ---------------------------------------------------------------- judge: every verdict


def test_the_first_checkpoint_seen_is_cosigned() -> None:
    new = Log(5).checkpoint()
    assert judge(None, new, proof_from=0, proof=()) == Cosign(new)


def test_a_larger_tree_proven_from_the_last_cosigned_is_cosigned() -> None:
    log = Log(5)
    last = log.checkpoint()
    log.grow(7)
    new = log.checkpoint()
    assert judge(last, new, proof_from=5, proof=log.proof(5)) == Cosign(new)


def test_the_same_checkpoint_again_is_already_cosigned() -> None:
    last = Log(5).checkpoint()
    again = Log(5).checkpoint()
    assert judge(last, again, proof_from=0, proof=()) == AlreadyCosigned(last)


def test_the_same_size_with_another_root_is_a_proven_fork() -> None:
    last = Log(5).checkpoint()
    other = Log(5, prefix=b"rewritten").checkpoint()
    verdict = judge(last, other, proof_from=5, proof=())
    assert isinstance(verdict, ForkAlarm)
    assert verdict.reason is AlarmReason.FORK
    assert verdict.held == last
    assert verdict.received == other
    assert verdict.evidence is not None
    assert (verdict.evidence.first, verdict.evidence.second) == (last.signed, other.signed)
    assert verdict.origin == ORIGIN


def test_a_larger_tree_whose_proof_fails_is_inconsistent() -> None:
    last = Log(5).checkpoint()
    rewritten = Log(5, prefix=b"rewritten")
    rewritten.grow(7)
    new = rewritten.checkpoint()
    verdict = judge(last, new, proof_from=5, proof=rewritten.proof(5))
    assert isinstance(verdict, ForkAlarm)
    assert verdict.reason is AlarmReason.INCONSISTENT
    assert "root mismatch" in verdict.detail
    assert verdict.evidence is None


def test_a_proof_of_the_wrong_length_is_inconsistent_too() -> None:
    log = Log(5)
    last = log.checkpoint()
    log.grow(7)
    verdict = judge(last, log.checkpoint(), proof_from=5, proof=log.proof(5)[:-1])
    assert isinstance(verdict, ForkAlarm)
    assert verdict.reason is AlarmReason.INCONSISTENT
    assert "proof length wrong" in verdict.detail


@pytest.mark.parametrize("proof_from", [0, 3, 6])
def test_a_proof_from_another_size_than_the_last_cosigned_asks_for_a_rebase(
    proof_from: int,
) -> None:
    log = Log(5)
    last = log.checkpoint()
    log.grow(7)
    verdict = judge(last, log.checkpoint(), proof_from=proof_from, proof=())
    assert verdict == Rebase(last)


def test_an_older_checkpoint_arriving_late_is_stale() -> None:
    log = Log(5)
    old = log.checkpoint()
    log.grow(7)
    last = log.checkpoint()
    assert judge(last, old, proof_from=0, proof=()) == Stale(last)
    assert judge(last, old, proof_from=0, proof=(), held_at_size=old) == Stale(last)


def test_an_older_checkpoint_contradicting_one_held_is_a_fork() -> None:
    log = Log(5)
    held = log.checkpoint()
    log.grow(7)
    last = log.checkpoint()
    other = Log(5, prefix=b"rewritten").checkpoint()
    verdict = judge(last, other, proof_from=0, proof=(), held_at_size=held)
    assert isinstance(verdict, ForkAlarm)
    assert (verdict.reason, verdict.held) == (AlarmReason.FORK, held)


def test_checkpoints_of_another_log_are_not_compared() -> None:
    last = Log(5).checkpoint()
    signer = Ed25519Signer(office_origin(NETWORK, VN), KEYS[VN].signing)
    note = sign_checkpoint(Checkpoint(signer.name, 5, last.checkpoint.root_hash), signer)
    foreign = open_checkpoint(note, origin=signer.name, log_key=signer.verifier())
    with pytest.raises(IntegrityError, match="different logs"):
        judge(last, foreign, proof_from=0, proof=())


def test_a_held_note_reads_back_as_the_checkpoint_it_holds() -> None:
    verified = Log(5).checkpoint()
    assert held_checkpoint(verified.signed) == VerifiedCheckpoint(
        verified.checkpoint, verified.signed
    )


# ---------------------------------------------------------------- keys and notes


def test_a_partners_checkpoint_opens_with_its_log_key_from_the_directory() -> None:
    verifiers = log_verifiers(DIRECTORY, HK, network=NETWORK, at=NOW)
    assert SIGNER.verifier() in verifiers
    new = Log(5).checkpoint()
    opened = open_partner_checkpoint(new.signed, origin=ORIGIN, verifiers=verifiers)
    assert opened.checkpoint == new.checkpoint
    assert log_verifiers(DIRECTORY, "XX-NOT-LISTED", network=NETWORK, at=NOW) == []


def test_a_checkpoint_signed_by_another_key_does_not_open() -> None:
    stranger = Ed25519Signer(ORIGIN, ed25519.Ed25519PrivateKey.from_private_bytes(b"s" * 32))
    note = Log(5).checkpoint(stranger).signed
    verifiers = log_verifiers(DIRECTORY, HK, network=NETWORK, at=NOW)
    with pytest.raises(IntegrityError, match="no valid log key"):
        open_partner_checkpoint(note, origin=ORIGIN, verifiers=verifiers)


def _vn_cosigned(verified: VerifiedCheckpoint) -> bytes:
    cosigner = Cosigner(office_cosigner_name(NETWORK, VN), KEYS[VN].signing)
    return add_cosignatures(verified.signed, [cosign_checkpoint(verified, cosigner, NOW)])


def test_a_partners_cosignature_of_our_checkpoint_is_checked_against_our_log() -> None:
    log = Log(9)
    note = _vn_cosigned(log.checkpoint())
    cosigners = cosigner_verifiers(DIRECTORY, VN, network=NETWORK, at=NOW)
    checked = check_cosignature(
        note, origin=ORIGIN, cosigners=cosigners, root_at=lambda _: log.tree.root(), log_size=9
    )
    assert checked.size == 9
    assert checked.cosignature.name == f"{NETWORK}/witness/{VN}"
    assert checked.cosignature.timestamp == int(NOW.timestamp())


def test_a_cosignature_of_a_root_our_log_never_had_is_refused() -> None:
    note = _vn_cosigned(Log(9, prefix=b"not ours").checkpoint())
    ours = Log(9)
    cosigners = cosigner_verifiers(DIRECTORY, VN, network=NETWORK, at=NOW)
    with pytest.raises(IntegrityError, match="root our log never had"):
        check_cosignature(
            note, origin=ORIGIN, cosigners=cosigners, root_at=lambda _: ours.tree.root(),
            log_size=9,
        )  # fmt: skip
    with pytest.raises(IntegrityError, match="our log has 4 entries"):
        check_cosignature(
            note, origin=ORIGIN, cosigners=cosigners, root_at=lambda _: b"", log_size=4
        )
    with pytest.raises(IntegrityError, match="not of"):
        check_cosignature(
            note, origin=office_origin(NETWORK, VN), cosigners=cosigners, root_at=lambda _: b"",
            log_size=9,
        )  # fmt: skip


def test_a_note_without_the_partners_cosignature_is_refused() -> None:
    note = Log(9).checkpoint().signed  # only our own signature
    cosigners = cosigner_verifiers(DIRECTORY, VN, network=NETWORK, at=NOW)
    with pytest.raises(IntegrityError, match="unknown key"):
        check_cosignature(note, origin=ORIGIN, cosigners=cosigners, root_at=bytes, log_size=9)


def test_note_signatures_use_the_strict_rule_of_envelopes() -> None:
    # A small-order public key with the identity as R and S = 0 satisfies the cofactorless
    # equation, and OpenSSL alone accepts it for any message; the strict rule refuses it.
    identity = (1).to_bytes(32, "little")
    forged = identity + bytes(32)
    assert not verify_ed25519(identity, b"any text\n", forged)
    verifier = Ed25519Verifier("forger", identity)
    note = f"any text\n\n— forger {base64.b64encode(verifier.key_id + forged).decode()}\n"
    with pytest.raises(IntegrityError, match="bad signature"):
        open_note(note.encode(), [verifier])


# ---------------------------------------------------------------- the payload


def test_the_payload_round_trips_and_matches_the_vector() -> None:
    document = json.loads((VECTORS / "checkpoint-exchange.json").read_text("utf-8"))
    sent, reply = (
        CheckpointExchange.from_bytes(bytes.fromhex(p["bytes_hex"])) for p in document["payloads"]
    )
    assert sent.office == HK
    assert sent.proof_from == 100
    assert sent.checkpoint.decode() == document["payloads"][0]["checkpoint"]
    assert reply.cosigned
    assert not reply.checkpoint
    for message in (sent, reply):
        assert CheckpointExchange.from_bytes(message.to_bytes()) == message
        assert CheckpointExchange.from_json(message.to_json()) == message
    # The vector's proof links the size-100 checkpoint to the size-300 one it carries.
    keys = json.loads((VECTORS / "keys.json").read_text("utf-8"))
    vkey = next(v for v in _strings(keys) if v.startswith(ORIGIN + "+"))
    from broker.ledger import parse_verifier_key  # noqa: PLC0415 - only this test reads keys

    log_key = parse_verifier_key(vkey)
    old = open_checkpoint((VECTORS / "checkpoint-100.note").read_bytes(), origin=ORIGIN,
                          log_key=log_key)  # fmt: skip
    new = open_checkpoint(sent.checkpoint, origin=ORIGIN, log_key=log_key)
    verify_checkpoint_consistency(old.checkpoint, new.checkpoint, sent.consistency_proof)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({}, "checkpoint"),
        ({"checkpoint": b"x" * (64 * 1024 + 1)}, "checkpoint"),
        ({"cosigned": b"x", "proof_from": 3}, "proof_from"),
        ({"checkpoint": b"x", "consistency_proof": (b"short",)}, "consistency_proof[0]"),
        ({"checkpoint": b"x", "consistency_proof": (b"h" * 32,) * 65}, "consistency_proof"),
        ({"checkpoint": b"x", "proof_from": -1}, "proof_from"),
        ({"checkpoint": b"x", "office": "nobody"}, "office"),
    ],
)
def test_a_malformed_payload_names_its_field(fields: dict[str, object], path: str) -> None:
    values: dict[str, object] = {"office": HK} | fields
    with pytest.raises(InvalidMessage) as caught:
        CheckpointExchange(**values)  # type: ignore[arg-type]
    assert caught.value.field == path


# ---------------------------------------------------------------- the decision core


def test_a_checkpoint_message_is_accepted_noted_and_not_handed_over_or_receipted() -> None:
    message = CheckpointExchange(office=HK, checkpoint=Log(5).checkpoint().signed)
    body = sealed(message, to=[VN])
    verdict = examine(arrival(body), VN_CONTEXT, Known(), now=NOW)
    assert isinstance(verdict, Accepted)
    assert verdict.header.kind is MessageKind.CHECKPOINT
    assert verdict.letter.message == message
    plan = plan_acceptance(verdict, body, now=NOW, enquiry_message_id=None)
    assert plan.incoming.state is InboxState.NOTED
    assert [e.event for e in plan.entries] == [EventType.RECEIVED]
    assert not plan.hand_over
    assert not plan.receipted


def test_a_rejected_checkpoint_message_gets_no_receipt() -> None:
    message = CheckpointExchange(office=HK, checkpoint=b"x")
    old = sealed(message, to=[VN], now=NOW - timedelta(days=9))
    verdict = rejected(examine(arrival(old), VN_CONTEXT, Known(), now=NOW))
    assert verdict.authentic
    assert not verdict.receipt_due


# ---------------------------------------------------------------- the witness tables


def _outgoing(tag: bytes) -> Outgoing:
    return Outgoing(
        message_id=hashlib.sha256(tag).digest()[:16],
        kind=MessageKind.CHECKPOINT,
        digest=hashlib.sha256(b"envelope " + tag).digest(),
        envelope=b"envelope " + tag,
        recipients=(HK,),
        created_at=NOW,
        expires_at=NOW + timedelta(days=1),
    )


def _entry(event: EventType = EventType.CHECKPOINT_COSIGNED) -> LogEntry:
    other = b"o" * 32 if event is EventType.FORK_ALARM else b""
    return LogEntry(
        event, NOW, log_origin=ORIGIN, tree_size=5, root_hash=b"r" * 32, other_root_hash=other
    )


def test_the_witness_tables_keep_cosigned_checkpoints_once(tmp_path: Path) -> None:
    with OfficeStore.open(tmp_path / "office.db", office_id=VN) as store:
        tables = WitnessStore(store.db, VN)
        assert tables.last_cosigned(ORIGIN) is None
        for size, note in ((5, b"five"), (9, b"nine")):
            added = tables.record_cosigned(
                origin=ORIGIN, office=HK, size=size, root=b"r" * 32, note=note,
                entries=[_entry()], reply=_outgoing(note), now=NOW,
            )  # fmt: skip
            assert added
        again = tables.record_cosigned(
            origin=ORIGIN, office=HK, size=9, root=b"r" * 32, note=b"nine", entries=[_entry()],
            reply=_outgoing(b"again"), now=NOW,
        )  # fmt: skip
        assert not again
        assert tables.last_cosigned(ORIGIN) == b"nine"
        assert tables.cosigned_at(ORIGIN, 5) == b"five"
        assert tables.cosigned_at(ORIGIN, 7) is None
        assert store.pending_log_entries() == 2  # the repeat journaled nothing
        assert len(store.deliveries(kinds=[MessageKind.CHECKPOINT])) == 2
        assert tables.summary()["partners"] == {HK: {"we_cosigned_size": 9}}


def test_the_proof_base_is_the_size_the_partner_cosigned_last(tmp_path: Path) -> None:
    with OfficeStore.open(tmp_path / "office.db", office_id=HK) as store:
        tables = WitnessStore(store.db, HK)
        assert tables.proof_base(VN) == 0
        entry = [_entry(EventType.COSIGNATURE_RECEIVED)]
        assert tables.record_cosignature(
            cosigner=VN, size=9, timestamp=1, note=b"n9", entries=entry, now=NOW
        )
        assert tables.proof_base(VN) == 9
        # It came back with an older one (it never saw 9's proof): the next proof starts there.
        later = NOW + timedelta(seconds=1)
        assert tables.record_cosignature(
            cosigner=VN, size=5, timestamp=2, note=b"n5", entries=entry, now=later
        )
        assert tables.proof_base(VN) == 5
        assert not tables.record_cosignature(  # a repeat: not new, but it says where VN stands
            cosigner=VN, size=9, timestamp=3, note=b"n9'", entries=entry,
            now=NOW + timedelta(seconds=2),
        )  # fmt: skip
        assert tables.proof_base(VN) == 9
        assert tables.cosignatures_on(9) == [(VN, b"n9'")]
        assert store.pending_log_entries() == 2
        assert tables.summary()["partners"] == {VN: {"they_cosigned_size": 9}}


def test_a_fork_alarm_is_kept_once_per_envelope(tmp_path: Path) -> None:
    with OfficeStore.open(tmp_path / "office.db", office_id=VN) as store:
        tables = WitnessStore(store.db, VN)
        alarm = ForkAlarmRow(
            office=HK, origin=ORIGIN, size=5, reason="fork", detail="two roots", raised_at=NOW,
            envelope_digest=b"d" * 32, held=b"held note", received=b"received note",
        )  # fmt: skip
        assert tables.record_alarm(alarm, [_entry(EventType.FORK_ALARM)], now=NOW)
        assert not tables.record_alarm(alarm, [_entry(EventType.FORK_ALARM)], now=NOW)
        assert tables.alarms() == [alarm]
        assert tables.summary()["fork_alarms"] == 1
        assert store.pending_log_entries() == 1


def test_the_tables_are_added_to_an_existing_store_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "office.db"
    with OfficeStore.open(path, office_id=VN) as store:
        store.record([_entry()])  # a store in use before the witness existed
    for _ in range(2):
        with OfficeStore.open(path, office_id=VN) as store:
            tables = WitnessStore(store.db, VN)
            tables.record_cosigned(
                origin=ORIGIN, office=HK, size=5, root=b"r" * 32, note=b"five", entries=[],
                reply=None, now=NOW,
            )  # fmt: skip
            assert tables.last_cosigned(ORIGIN) == b"five"
            assert tables.correspondents() == set()


def test_correspondents_are_senders_and_confirmed_recipients(tmp_path: Path) -> None:
    with OfficeStore.open(tmp_path / "office.db", office_id=VN) as store:
        tables = WitnessStore(store.db, VN)
        store.queue(_outgoing(b"queued"), [], now=NOW)
        assert tables.correspondents() == set()  # queued, not confirmed: maybe no route
        store.record_confirmed(_outgoing(b"queued").message_id, HK, NOW)
        assert tables.correspondents() == {HK}

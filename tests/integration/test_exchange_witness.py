"""Checkpoint exchange between two real daemons on the real RabbitMQ (docs/exchange-log.md,
"Checkpoint exchange"): each office's checkpoints reach its partner, which cosigns them after
checking consistency and sends the cosignature back; a checkpoint that contradicts what a
partner cosigned before raises a fork alarm, in its log and in its status.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

import tests.integration.test_exchange_daemon as exchange
from broker.daemon import DaemonSettings, OfficeDaemon, amqp_settings
from broker.daemon.submission import submit
from broker.exchange_log import EventType, log_signer, log_verifier
from broker.ledger import (
    Checkpoint,
    CosignatureVerifier,
    TreeState,
    leaf_hash,
    office_cosigner_name,
    office_origin,
    open_checkpoint,
    sign_checkpoint,
)
from broker.letters import seal_message
from broker.model.checkpoint_exchange import CheckpointExchange
from broker.office_store.witness import WitnessStore
from tests.demo import DIRECTORY_FILE, ROOT_FILE
from tests.integration.broker_fixtures import LiaisonSite

pytestmark = pytest.mark.integration

# The daemon tests' site, offices and helpers (one vhost per module, emptied before each test).
site = exchange.site
key_folder = exchange.key_folder
offices = exchange.offices
liaison_office = exchange.liaison_office
_empty_queues = exchange._empty_queues  # the autouse fixture, reused
HK, VN = exchange.HK, exchange.VN
NETWORK = "liaison.example"

# Checkpoints after every entry, shared as soon as there is a new one (twice a second at most).
WITNESSING = dataclasses.replace(
    exchange.FAST,
    checkpoint_entries=1,
    checkpoint_interval=0.2,
    checkpoint_share_interval=0.5,
)


def start(node: exchange.Node, settings: DaemonSettings = WITNESSING) -> OfficeDaemon:
    node.daemon = OfficeDaemon(
        node.office, amqp_settings(node.config), settings=settings, clock=node.clock
    )
    node.daemon.start()
    assert node.daemon.wait_ready(exchange.WAIT), node.daemon.error
    return node.daemon


def cosignatures(node: exchange.Node, cosigner: str) -> dict[int, bytes]:
    """Our checkpoints ``cosigner`` cosigned, by size: the cosigned notes."""
    with node.store() as store:
        tables = WitnessStore(store.db, store.office_id)
        rows = tables.db.rows(
            "SELECT size, note FROM witness_cosignatures WHERE cosigner = ?", (cosigner,)
        )
    return {int(size): bytes(note) for size, note in rows}


def events(node: exchange.Node, event: EventType) -> list[Any]:
    return [e for e in node.entries() if e.event is event]


def status(node: exchange.Node) -> dict[str, Any]:
    document = json.loads(node.office.paths.status.read_text("utf-8"))
    assert isinstance(document, dict)
    return document


def test_partners_cosign_each_others_checkpoints_and_the_cosignatures_verify(
    offices: Callable[..., exchange.Node], liaison_office: Callable[..., Any]
) -> None:
    hk, vn = offices(HK), offices(VN)
    # Checkpoints go to the offices one has exchanged messages with: an enquiry makes them so.
    submit(hk.office, exchange.enquiry(), now=datetime.now(UTC))
    start(hk)
    start(vn)
    # Two sizes at least: the first is taken on first sight, the second needs a consistency
    # proof from the first.
    exchange.wait_for(lambda: len(cosignatures(hk, VN)) >= 2 and len(cosignatures(vn, HK)) >= 2)
    exchange.wait_for(lambda: status(vn)["witness"]["partners"].get(HK, {}).get("we_cosigned_size"))
    hk.stop()
    vn.stop()

    hk_public = hk.office.keys.public()
    vn_public = vn.office.keys.public()
    vn_witness = CosignatureVerifier(office_cosigner_name(NETWORK, VN), vn_public.signing)
    for size, note in cosignatures(hk, VN).items():
        verified = open_checkpoint(
            note,
            origin=office_origin(NETWORK, HK),
            log_key=log_verifier(hk_public, network=NETWORK),
            cosigners=[vn_witness],
            min_cosignatures=1,
        )
        assert verified.checkpoint.size == size
        assert verified.cosignatures[0].name == f"{NETWORK}/witness/{VN}"

    # Both logs say so: VN cosigned HK's checkpoints, HK received VN's cosignatures.
    cosigned = events(vn, EventType.CHECKPOINT_COSIGNED)
    assert {e.log_origin for e in cosigned} == {office_origin(NETWORK, HK)}
    assert len({e.tree_size for e in cosigned}) >= 2
    received = events(hk, EventType.COSIGNATURE_RECEIVED)
    assert {e.sender for e in received} == {VN}
    assert not events(vn, EventType.FORK_ALARM)
    assert not events(hk, EventType.FORK_ALARM)
    assert status(vn)["witness"]["fork_alarms"] == 0

    # The logs, with the cosignatures and the checkpoint messages, pass a full audit.
    for node in (hk, vn):
        verified = liaison_office(
            "audit", "verify", str(node.office.paths.log), "--full", "--workers", "1",
            "--directory", str(DIRECTORY_FILE), "--root", str(ROOT_FILE),
        )  # fmt: skip
        assert verified.code == 0, verified.out + verified.err


def _hk_checkpoint(hk: exchange.Node, leaves: list[bytes]) -> tuple[bytes, TreeState]:
    """A checkpoint of HK's origin over ``leaves``, signed with HK's real log key."""
    tree = TreeState()
    for leaf in leaves:
        tree.append(leaf_hash(leaf))
    checkpoint = Checkpoint(office_origin(NETWORK, HK), tree.size, tree.root())
    return sign_checkpoint(checkpoint, log_signer(hk.office.keys, network=NETWORK)), tree


def _send_as_hk(site: LiaisonSite, hk: exchange.Node, message: CheckpointExchange) -> None:
    office = hk.office
    body = seal_message(
        message, sender=office.keys, directory=office.directory, now=datetime.now(UTC), to=[VN]
    )
    exchange.publish_raw(site, body, as_office=HK, to=VN)


def test_a_checkpoint_inconsistent_with_the_one_cosigned_raises_a_fork_alarm(
    offices: Callable[..., exchange.Node],
    site: LiaisonSite,
    liaison_office: Callable[..., Any],
) -> None:
    hk, vn = offices(HK), offices(VN)  # HK's daemon does not run: the test speaks as HK
    start(vn)
    honest, _ = _hk_checkpoint(hk, [b"a", b"b", b"c"])
    _send_as_hk(site, hk, CheckpointExchange(office=HK, checkpoint=honest))
    exchange.wait_for(lambda: events(vn, EventType.CHECKPOINT_COSIGNED))

    # The same size with another root, signed with HK's own key: a proven fork.
    forked, _ = _hk_checkpoint(hk, [b"a", b"b", b"X"])
    _send_as_hk(site, hk, CheckpointExchange(office=HK, checkpoint=forked))
    exchange.wait_for(lambda: events(vn, EventType.FORK_ALARM))
    (alarm,) = events(vn, EventType.FORK_ALARM)
    assert alarm.reason == "fork"
    assert alarm.sender == HK
    assert alarm.log_origin == office_origin(NETWORK, HK)
    assert alarm.tree_size == 3
    assert alarm.root_hash != alarm.other_root_hash

    # A larger tree whose proof from size 3 does not hold: inconsistent, a second alarm.
    larger, _ = _hk_checkpoint(hk, [b"a", b"b", b"c", b"d", b"e"])
    bogus = tuple(hashlib.sha256(b"%d" % i).digest() for i in range(3))
    _send_as_hk(
        site,
        hk,
        CheckpointExchange(office=HK, checkpoint=larger, proof_from=3, consistency_proof=bogus),
    )
    exchange.wait_for(lambda: len(events(vn, EventType.FORK_ALARM)) == 2)
    assert events(vn, EventType.FORK_ALARM)[1].reason == "inconsistent"
    exchange.wait_for(lambda: status(vn)["witness"]["fork_alarms"] == 2)
    health = liaison_office("status", "--health", "--config", str(vn.config_path), "--json")
    assert json.loads(health.out)["status"]["witness"]["fork_alarms"] == 2
    told = liaison_office("status", "--health", "--config", str(vn.config_path))
    assert "fork alarms: 2" in told.out

    # Nothing inconsistent was cosigned: the last cosigned checkpoint of HK is still the honest.
    with vn.store() as store:
        tables = WitnessStore(store.db, store.office_id)
        assert tables.last_cosigned(office_origin(NETWORK, HK)) is not None
        assert [a.reason for a in tables.alarms()] == ["fork", "inconsistent"]
        assert tables.alarms()[0].held.startswith(honest.split(b"\n\n")[0])
        assert tables.alarms()[0].received == forked
    vn.stop()

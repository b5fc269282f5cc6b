"""Two real daemons' logs reconciled after an exchange in which messages went missing.

HK sends enquiries to VN; while VN's daemon is stopped, some are taken out of VN's inbox (as an
operator or a broker fault would lose them); later, while HK's daemon is stopped, some of VN's
receipts are taken out of HK's inbox. ``liaison audit reconcile`` must name exactly those:
the lost enquiries as sent-not-received (HK -> VN), the lost receipts as sent-not-received
(VN -> HK) and their enquiries as receipt-missing; everything else matched. Both logs stay
sound under ``liaison audit verify --full``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

import tests.integration.test_exchange_daemon as exchange
from broker.daemon.submission import submit
from broker.envelope import MessageKind
from broker.exchange_log import EventType
from broker.office_store import DeliveryState
from broker.topology import inbox_queue
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

SENT = 30
LOST_ENQUIRIES = 4
LOST_RECEIPTS = 3


def take_from_inbox(site: LiaisonSite, office: str, count: int) -> set[bytes]:
    """Consume (and so destroy) ``count`` messages from ``office``'s inbox; their ids."""
    taken: set[bytes] = set()
    with site.connect(office) as connection:
        channel = connection.channel()
        for _ in range(count):
            method, properties, _ = channel.basic_get(inbox_queue(office), auto_ack=True)
            assert method is not None, f"{office}'s inbox ran dry"
            taken.add(bytes.fromhex(properties.message_id))
    return taken


def states(node: exchange.Node, kind: MessageKind) -> dict[DeliveryState, int]:
    with node.store() as store:
        rows = store.deliveries(kinds=[kind], limit=10_000)
    counted: dict[DeliveryState, int] = {}
    for row in rows:
        counted[row.state] = counted.get(row.state, 0) + 1
    return counted


def test_reconcile_names_exactly_the_messages_that_went_missing(
    offices: Callable[..., exchange.Node],
    site: LiaisonSite,
    liaison_office: Callable[..., Any],
) -> None:
    hk, vn = offices(HK), offices(VN)
    sent = {
        submit(hk.office, exchange.enquiry(), now=datetime.now(UTC)).message_id for _ in range(SENT)
    }
    # HK publishes everything while VN is down; then some enquiries vanish from VN's inbox.
    hk.start()
    exchange.wait_for(lambda: states(hk, MessageKind.ENQUIRY) == {DeliveryState.PUBLISHED: SENT})
    hk.stop()
    lost_enquiries = take_from_inbox(site, VN, LOST_ENQUIRIES)
    assert lost_enquiries < sent

    # VN takes the rest and receipts each; HK is down, and some receipts vanish from its inbox.
    vn.start()
    arrived = SENT - LOST_ENQUIRIES
    exchange.wait_for(lambda: len(vn.spool()) == arrived)
    exchange.wait_for(lambda: states(vn, MessageKind.RECEIPT) == {DeliveryState.PUBLISHED: arrived})
    vn.stop()
    lost_receipts = take_from_inbox(site, HK, LOST_RECEIPTS)
    receipt_of = {
        e.message_id: e.related_message_id
        for e in vn.entries()
        if e.event is EventType.RECEIPT_SENT
    }
    unreceipted = {receipt_of[receipt] for receipt in lost_receipts}
    assert unreceipted <= sent - lost_enquiries

    hk.start()
    exchange.wait_for(
        lambda: (
            states(hk, MessageKind.ENQUIRY)
            == {
                DeliveryState.DELIVERED: arrived - LOST_RECEIPTS,
                DeliveryState.PUBLISHED: LOST_ENQUIRIES + LOST_RECEIPTS,
            }
        )
    )
    hk.stop()

    hk_log, vn_log = str(hk.office.paths.log), str(vn.office.paths.log)
    result = liaison_office("audit", "reconcile", hk_log, vn_log, "--grace", "0", "--json")
    assert result.code == 30, result.err  # the logs disagree
    report = json.loads(result.out)
    assert report["agree"] is False
    found: dict[str, set[tuple[str, bytes]]] = {}
    for finding in report["findings"]:
        code, sender = finding["code"], finding["sender"]
        found.setdefault(code, set()).add((sender, bytes.fromhex(finding["message_id"])))
    assert found == {
        "sent-not-received": {(HK, mid) for mid in lost_enquiries}
        | {(VN, mid) for mid in lost_receipts},
        "receipt-missing": {(HK, mid) for mid in unreceipted},
    }
    matched = {(d["sender"], bytes.fromhex(d["message_id"])) for d in report["deliveries"]}
    assert matched == {(HK, mid) for mid in sent - lost_enquiries} | {
        (VN, receipt) for receipt in set(receipt_of) - lost_receipts
    }
    # Each log on its own is sound: the tree, the checkpoints, every envelope it names.
    for log in (hk_log, vn_log):
        verified = liaison_office(
            "audit", "verify", log, "--full", "--workers", "1",
            "--directory", str(DIRECTORY_FILE), "--root", str(ROOT_FILE),
        )  # fmt: skip
        assert verified.code == 0, verified.out + verified.err

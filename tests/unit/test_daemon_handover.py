"""The office's own side without a broker: hand-over in the office's format (losses logged,
essential ones refused, nothing receipted until handed over) and the pickup folder (files
become signed messages once, or are filed under failed/ with the reason)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from adapters.base import load
from adapters.transports.spool import PickupFolder
from broker.daemon import submit
from broker.daemon.handover import CanonicalCodec, HandoverRefused, codec_named
from broker.daemon.inbound import Settle
from broker.daemon.pickup import PickupWatcher
from broker.envelope import Header, peek_header
from broker.errors import ConfigError, NotAvailable
from broker.exchange_log import EventType
from broker.model import CaseEnquiry, CaseResponse, new_id
from broker.office_store import DeliveryState, InboxState
from tests.unit.test_daemon_inbound import (
    EXAMPLES,
    HK,
    NOW,
    VN,
    Side,
    arrival,
    enquiry,
    side,
)

SHEET = '[handover]\nadapter = "sheet"\nvariant = "csv:vi"\n'


def sides(tmp_path: Path, vn_handover: str) -> tuple[Side, Side]:
    return side(tmp_path, HK), side(tmp_path, VN, vn_handover)


@pytest.fixture
def closing() -> Iterator[list[Side]]:
    opened: list[Side] = []
    yield opened
    for each in opened:
        each.store.close()
        each.log.close()


def deliver_enquiry(hk: Side, vn: Side, asked: CaseEnquiry) -> bytes:
    queued = submit(hk.office, asked, now=NOW)
    hk.publisher.publish_due(NOW)
    [out] = hk.confirm_all()
    assert vn.inbound.handle(arrival(out), now=NOW) is Settle.ACK
    return queued.message_id


def test_the_office_gets_its_own_format_and_the_losses_are_logged(
    tmp_path: Path, closing: list[Side]
) -> None:
    hk, vn = sides(tmp_path, SHEET)
    closing += [hk, vn]
    asked = enquiry()  # has coordinates and an attachment, which a CSV sheet cannot carry
    with capture_logs() as logged:
        message_id = deliver_enquiry(hk, vn, asked)
    [handed] = (vn.office.paths.data_dir / "spool" / "in").glob("*")
    assert handed.name == f"{message_id.hex()}.csv"
    decoded = load("sheet").decode(handed.read_bytes(), suffix=".csv")
    assert decoded.message.enquiry_id == asked.enquiry_id
    assert vn.events(message_id) == [
        EventType.RECEIVED,
        EventType.HANDED_OVER,
        EventType.RECEIPT_SENT,
    ]
    lost = [entry for entry in logged if entry["event"] == "hand_over_loss"]
    assert {entry["field_path"] for entry in lost} == {
        "places[0].coordinates",
        "places[1].coordinates",
        "attachments[0]",
    }


def test_a_hand_over_that_would_lose_an_essential_field_is_refused_and_not_receipted(
    tmp_path: Path, closing: list[Side]
) -> None:
    hk, vn = sides(tmp_path, SHEET + 'essential = ["attachments"]\n')
    closing += [hk, vn]
    message_id = deliver_enquiry(hk, vn, enquiry())
    row = vn.store.received(message_id)
    assert row is not None
    assert row.state is InboxState.RECEIVED  # kept, acked, waiting for a person to decide
    assert not list((vn.office.paths.data_dir / "spool").glob("**/*.csv"))
    assert vn.inbound.counts.hand_over_failures == 1
    assert vn.publisher.publish_due(NOW) == 0  # no DELIVERED receipt for what was not delivered
    assert vn.inbound.resume(now=NOW) == 0  # and refused again at every chase
    with pytest.raises(HandoverRefused, match="attachments") as refused:
        vn.handover.prepare(header_of(vn, message_id), enquiry())
    assert refused.value.rule == "handover.essential-field"


def header_of(vn: Side, message_id: bytes) -> Header:
    row = vn.store.received(message_id)
    assert row is not None
    return peek_header(row.envelope)


def test_codecs_are_found_by_name() -> None:
    assert isinstance(codec_named("canonical"), CanonicalCodec)
    assert codec_named("umf").name == "umf"
    with pytest.raises(NotAvailable, match="no adapter named 'telex'"):
        codec_named("telex")


# ---------------------------------------------------------------- the pickup folder


def watcher(vn: Side, tmp_path: Path, codec: str = "json") -> PickupWatcher:
    folder = PickupFolder(tmp_path / "pickup", max_bytes=1 << 20)
    folder.prepare()
    return PickupWatcher(lambda: vn.office, vn.store, codec_named(codec), folder)


def drop(w: PickupWatcher, name: str, data: bytes) -> None:
    (w.folder.folder / name).write_bytes(data)
    assert w.poll(now=NOW) == 0  # the first look only notes the size
    assert w.poll(now=NOW) == 1


def test_an_answer_dropped_in_the_pickup_folder_is_sent_once(
    tmp_path: Path, closing: list[Side]
) -> None:
    hk, vn = sides(tmp_path, "")
    closing += [hk, vn]
    asked = enquiry()
    enquiry_message = deliver_enquiry(hk, vn, asked)
    w = watcher(vn, tmp_path)
    answer = CaseResponse.from_json((EXAMPLES / "case-response.json").read_text("utf-8"))
    answer = dataclasses.replace(answer, enquiry_id=asked.enquiry_id, responding_office=VN)
    data = load("json").encode(answer).data
    drop(w, "answer.json", data)
    result = json.loads((w.folder.done / "answer.json.result.json").read_text())
    assert (result["kind"], result["recipients"], result["state"]) == ("response", [HK], "queued")
    row = vn.store.received(enquiry_message)
    assert row is not None
    assert row.state is InboxState.ANSWERED

    drop(w, "answer.json", data)  # the same file again (a person dropped it twice)
    again = json.loads((w.folder.done / "answer.1.json.result.json").read_text())
    assert (again["message_id"], again["state"]) == (result["message_id"], "queued before")
    assert vn.publisher.publish_due(NOW) == 2  # the receipt for HK's enquiry, and one response
    for sent in vn.confirm_all():
        assert hk.inbound.handle(arrival(sent), now=NOW) is Settle.ACK
    assert hk.state(enquiry_message, VN) is DeliveryState.ANSWERED
    assert w.counts.picked_up == 2


def test_bad_or_refused_files_are_filed_with_their_reason(
    tmp_path: Path, closing: list[Side]
) -> None:
    hk, vn = sides(tmp_path, "")
    closing += [hk, vn]
    w = watcher(vn, tmp_path)
    drop(w, "garbage.json", b'{"kind": "enquiry", "enquiryId": 7}')
    reason = (w.folder.failed / "garbage.json.reason.txt").read_text()
    assert reason.startswith("AdapterInputError: ")
    # VN may not write to Spain: no agreement between them.
    outside = dataclasses.replace(
        enquiry(),
        enquiry_id=new_id(),
        requesting_office=VN,
        recipient_offices=("ES-PN-UCRIF",),
        response_due=NOW + timedelta(days=1),
    )
    drop(w, "to-spain.json", load("json").encode(outside).data)
    refused = (w.folder.failed / "to-spain.json.reason.txt").read_text()
    assert refused.startswith("PolicyRefused: refused by policy rule")
    assert vn.store.delivery_counts() == {}
    assert (w.counts.picked_up, w.counts.pickup_refused) == (0, 2)


def test_a_second_answer_to_the_same_enquiry_is_sent_and_a_stuck_file_holds_up_nothing(
    tmp_path: Path, closing: list[Side], monkeypatch: pytest.MonkeyPatch
) -> None:
    hk, vn = sides(tmp_path, "")
    closing += [hk, vn]
    asked = enquiry()
    deliver_enquiry(hk, vn, asked)
    w = watcher(vn, tmp_path)
    partial = CaseResponse.from_json((EXAMPLES / "case-response.json").read_text("utf-8"))
    partial = dataclasses.replace(partial, enquiry_id=asked.enquiry_id, responding_office=VN)
    full = dataclasses.replace(partial, response_id=new_id(), text="The full answer.")
    real_read = PickupFolder.read

    def unreadable(folder: PickupFolder, picked: object) -> bytes:
        if getattr(picked, "name", "") == "a-stuck.json":
            raise ConfigError("cannot read it now")
        return real_read(folder, picked)  # type: ignore[arg-type]

    monkeypatch.setattr(PickupFolder, "read", unreadable)
    (w.folder.folder / "a-stuck.json").write_bytes(b"{}")
    (w.folder.folder / "b-partial.json").write_bytes(load("json").encode(partial).data)
    (w.folder.folder / "c-full.json").write_bytes(load("json").encode(full).data)
    (w.folder.folder / "d-huge-number.json").write_bytes(b'{"enquiry_id": ' + b"9" * 5000 + b"}")
    w.poll(now=NOW)
    assert w.poll(now=NOW) == 3  # the stuck file is skipped, the others are taken
    first = json.loads((w.folder.done / "b-partial.json.result.json").read_text())
    second = json.loads((w.folder.done / "c-full.json.result.json").read_text())
    assert (first["state"], second["state"]) == ("queued", "queued")
    assert first["message_id"] != second["message_id"]
    assert (w.folder.failed / "d-huge-number.json.reason.txt").is_file()
    assert (w.folder.folder / "a-stuck.json").is_file()  # still there for the next look

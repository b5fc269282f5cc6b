"""Partner formats through the real daemons and RabbitMQ (issue #8's must-show).

The Lao office's system works with bilingual spreadsheets, the Spanish unit's with UMF-style
XML; their daemons hand received enquiries over in those formats, and the Lao office answers
by dropping a filled-in sheet into its pickup folder, which comes back to Yunnan as a signed
CaseResponse. The directory's agreements let the Yunnan office (CN-YN-BLO-HK) write to Laos
(MEKONG-2014) but not to Spain: Spain is asked by the Ministry (CN-MPS-OCT, CN-ES-WG-2016).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lxml import etree

import tests.integration.test_exchange_daemon as exchange
from adapters.base import load
from broker.certs import issue, make_ca, write_issued
from broker.daemon.submission import submit
from broker.exchange_log import EventType
from broker.model import CaseEnquiry, CaseResponse, new_id
from broker.office_store import DeliveryState
from broker.topology import OfficeRoute
from tests.integration.broker_fixtures import LiaisonSite, site_with

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HK, OCT, LA, ES = "CN-YN-BLO-HK", "CN-MPS-OCT", "LA-MOPS-ATD", "ES-PN-UCRIF"
ROUTES = (
    OfficeRoute(HK, frozenset({LA})),
    OfficeRoute(OCT, frozenset({ES})),
    OfficeRoute(LA, frozenset({HK})),
    OfficeRoute(ES, frozenset({OCT})),
)
HANDOVER = {
    LA: '[handover]\nadapter = "sheet"\nvariant = "xlsx:lo"\npickup_dir = "partner/answers"\n',
    ES: '[handover]\nadapter = "umf"\ndeliver_dir = "partner/umf-in"\n',
}


@pytest.fixture(scope="module")
def site(amqp_url: str) -> Iterator[LiaisonSite]:
    with site_with(amqp_url, ROUTES) as made:
        yield made


key_folder = exchange.key_folder


@pytest.fixture
def offices(
    site: LiaisonSite, key_folder: Path, tmp_path: Path
) -> Iterator[Callable[..., exchange.Node]]:
    """A node per office, its [handover] as HANDOVER says unless ``handover`` is given."""
    made: list[exchange.Node] = []

    def node(office_id: str, handover: str | None = None) -> exchange.Node:
        extra = HANDOVER.get(office_id, "") if handover is None else handover
        made.append(exchange.make_node(site, key_folder, tmp_path / office_id, office_id,
                                       extra=extra))  # fmt: skip
        return made[-1]

    yield node
    for each in made:
        each.stop()


def files(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


def example(name: str) -> CaseEnquiry:
    asked = CaseEnquiry.from_json((ROOT / "docs" / "examples" / name).read_text("utf-8"))
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    return dataclasses.replace(asked, enquiry_id=new_id(), response_due=due)


def test_enquiries_reach_partners_in_their_formats_and_a_sheet_answer_comes_back(
    offices: Callable[..., exchange.Node],
) -> None:
    hk, oct_, la, es = (offices(o) for o in (HK, OCT, LA, ES))
    for node in (hk, oct_, la, es):
        node.start()

    # Yunnan asks Laos about a missing child; the Ministry asks Spain for an identity check.
    alert = dataclasses.replace(example("missing-child-alert.json"), recipient_offices=(LA,))
    to_laos = submit(hk.office, alert, now=datetime.now(UTC))
    check = example("identity-check.json")
    to_spain = submit(oct_.office, check, now=datetime.now(UTC))

    # Spain's system gets UMF-style XML that its own schema accepts.
    umf_folder = es.office.paths.data_dir.parent / "partner" / "umf-in"
    exchange.wait_for(lambda: len(files(umf_folder, "*.xml")) == 1)
    [xml_file] = files(umf_folder, "*.xml")
    assert xml_file.name == f"{to_spain.message_id.hex()}.xml"
    assert xml_file.stat().st_mode & 0o777 == 0o600
    schema = etree.XMLSchema(etree.parse(str(ROOT / "adapters/umf/schema/liaison-umf-1.xsd")))
    assert schema.validate(etree.fromstring(xml_file.read_bytes()))
    umf = load("umf").decode(xml_file.read_bytes(), suffix=".xml")
    assert umf.message == check

    # Laos's system gets the bilingual sheet (English keys, Lao labels) with the enquiry.
    la_spool = la.office.paths.data_dir / "spool" / "in"
    exchange.wait_for(lambda: len(files(la_spool, "*.xlsx")) == 1)
    [sheet_file] = files(la_spool, "*.xlsx")
    sheet = load("sheet")
    received = sheet.decode(sheet_file.read_bytes(), suffix=".xlsx").message
    assert isinstance(received, CaseEnquiry)
    assert received.enquiry_id == alert.enquiry_id
    assert received.persons == alert.persons

    # Both senders hold a signed DELIVERED receipt.
    exchange.wait_for(lambda: hk.state(to_laos.message_id, LA) is DeliveryState.DELIVERED)
    exchange.wait_for(lambda: oct_.state(to_spain.message_id, ES) is DeliveryState.DELIVERED)

    # The Lao officer fills in the answer sheet and drops it into the pickup folder.
    answer = CaseResponse.from_json(
        (ROOT / "adapters/sheet/examples/lao-response.json").read_text("utf-8")
    )
    answer = dataclasses.replace(answer, enquiry_id=alert.enquiry_id, responding_office=LA)
    pickup = la.office.paths.data_dir.parent / "partner" / "answers"
    filled = sheet.encode(answer, variant="xlsx:lo").data
    (pickup / "answer-from-vientiane.xlsx").write_bytes(filled)

    # It comes back to Yunnan as a signed CaseResponse, handed over there as canonical JSON.
    exchange.wait_for(lambda: len(hk.spool()) == 1)
    back = CaseResponse.from_json(hk.spool()[0].read_text("utf-8"))
    assert back.enquiry_id == alert.enquiry_id
    assert back.responding_office == LA
    assert back.text == answer.text
    exchange.wait_for(lambda: hk.state(to_laos.message_id, LA) is DeliveryState.ANSWERED)
    exchange.wait_for(lambda: EventType.RESPONSE_RECEIVED in hk.events(to_laos.message_id))

    # The file is filed under done/ with what it became; nothing is left in the folder.
    result = json.loads((pickup / "done" / "answer-from-vientiane.xlsx.result.json").read_text())
    assert (result["kind"], result["recipients"], result["enquiry_id"]) == (
        "response",
        [HK],
        alert.enquiry_id,
    )
    assert sorted(p.name for p in pickup.iterdir()) == ["done", "failed"]
    daemon = la.daemon
    assert daemon is not None
    exchange.wait_for(lambda: daemon.status["counts"].get("picked_up") == 1)  # health interval


def test_a_bad_sheet_is_filed_under_failed_with_its_reason_and_the_daemon_carries_on(
    offices: Callable[..., exchange.Node],
) -> None:
    la = offices(LA)
    la.start()
    pickup = la.office.paths.data_dir.parent / "partner" / "answers"
    (pickup / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (pickup / "orphan.xlsx").write_bytes(
        load("sheet")
        .encode(
            CaseResponse.from_json(
                (ROOT / "adapters/sheet/examples/lao-response.json").read_text("utf-8")
            ),
            variant="xlsx:lo",
        )
        .data
    )  # answers an enquiry Laos never received
    exchange.wait_for(lambda: len(files(pickup / "failed", "*.reason.txt")) == 2)
    broken = (pickup / "failed" / "broken.xlsx.reason.txt").read_text()
    orphan = (pickup / "failed" / "orphan.xlsx.reason.txt").read_text()
    assert broken.startswith("AdapterInputError: ")
    assert "no enquiry" in orphan
    assert la.daemon is not None
    assert la.daemon.alive
    with la.store() as store:
        assert store.delivery_counts() == {}  # nothing was sent


# ---------------------------------------------------------------- over HTTP


class PartnerSystem:
    """The Lao office's own case system as an HTTPS endpoint that records what it is given."""

    def __init__(self, folder: Path) -> None:
        ca = make_ca()
        write_issued(ca, folder, "ca")
        write_issued(issue(ca, "localhost", hosts=("localhost", "127.0.0.1")), folder, "server")
        self.ca_file = folder / "ca.pem"
        self.received: list[tuple[dict[str, str], bytes]] = []
        system = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                system.received.append((dict(self.headers), body))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "server.pem", folder / "server-key.pem")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://localhost:{self.server.server_address[1]}/liaison/messages"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_over_http_the_partner_system_is_posted_to_and_posts_its_answer_back(
    offices: Callable[..., exchange.Node], tmp_path: Path
) -> None:
    system = PartnerSystem(tmp_path / "tls")
    try:
        secrets_folder = tmp_path / "secrets"
        secrets_folder.mkdir()
        for name, value in (("out-token", "token-for-the-case-system"), ("in-token", "t0k3n-in")):
            (secrets_folder / name).write_text(value)
            (secrets_folder / name).chmod(0o600)
        port = free_port()
        la = offices(
            LA,
            '[handover]\nadapter = "json"\ntransport = "http"\n'
            f'url = "{system.url}"\nca_file = "{system.ca_file}"\n'
            f'token_file = "{secrets_folder / "out-token"}"\n'
            'pickup_dir = "partner/answers"\npickup_interval = 0.2\n'
            f'[partner_api]\nlisten = "127.0.0.1:{port}"\n'
            f'token_file = "{secrets_folder / "in-token"}"\n',
        )
        hk = offices(HK)
        hk.start()
        la.start()
        alert = dataclasses.replace(example("missing-child-alert.json"), recipient_offices=(LA,))
        sent = submit(hk.office, alert, now=datetime.now(UTC))

        # The case system got the enquiry by POST, in its JSON, with its token.
        exchange.wait_for(lambda: len(system.received) == 1)
        [(headers, body)] = system.received
        assert headers["Authorization"] == "Bearer token-for-the-case-system"
        assert headers["Idempotency-Key"] == sent.message_id.hex()
        assert load("json").decode(body).message == alert
        exchange.wait_for(lambda: hk.state(sent.message_id, LA) is DeliveryState.DELIVERED)

        # It answers through the daemon's local endpoint.
        answer = CaseResponse.from_json(
            (ROOT / "adapters/sheet/examples/lao-response.json").read_text("utf-8")
        )
        answer = dataclasses.replace(answer, enquiry_id=alert.enquiry_id)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request(
            "POST",
            "/v1/files",
            body=load("json").encode(answer).data,
            headers={"Authorization": "Bearer t0k3n-in", "Content-Type": "application/json"},
        )
        reply = connection.getresponse()
        assert reply.status == 202, reply.read()
        exchange.wait_for(lambda: hk.state(sent.message_id, LA) is DeliveryState.ANSWERED)
        back = CaseResponse.from_json(hk.spool()[0].read_text("utf-8"))
        assert back.text == answer.text
    finally:
        system.close()

"""HTTP both ways, against real local servers: hand-overs POSTed with their ids and token,
retried only when retrying can help, over verified TLS; and the partner API, which takes files
only from an authenticated caller, within limits, under names of our own making, and tells
what became of them."""

from __future__ import annotations

import http.client
import io
import json
import socket  # noqa: TID251 - a listener that never answers, for the timeout
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import structlog

from adapters.base import Encoded
from adapters.transports import HandOver, Transport
from adapters.transports.http_in import NAME_PATTERN, PartnerApi, suffix_of
from adapters.transports.http_out import HttpTransport, retry_after_seconds
from adapters.transports.spool import Picked, PickupFolder
from broker.certs import issue, make_ca, write_issued
from broker.config import HandoverSection, PartnerApiSection
from broker.errors import ConfigError, TransportError
from broker.log import configure_logging

MESSAGE_ID = bytes(range(16))
TOKEN = "s3cret-token-value"
CONTENT = b"<Message>Nguyen Thi Lan</Message>"
SUFFIXES = (".xlsx", ".csv", ".xml", ".json")


def handover() -> HandOver:
    return HandOver(
        MESSAGE_ID, "enquiry", "CN-YN-BLO-HK", Encoded(CONTENT, "application/xml", ".xml")
    )


@dataclass
class Pki:
    ca: Path
    server: tuple[Path, Path]
    client: tuple[Path, Path]
    other_ca: Path
    stranger: tuple[Path, Path]  # a client certificate from the other CA


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca, other = make_ca("test CA"), make_ca("someone else's CA")
    (folder / "ca.pem").write_bytes(ca.cert_pem())
    (folder / "other-ca.pem").write_bytes(other.cert_pem())
    server = issue(ca, "partner.test", hosts=("127.0.0.1", "localhost"), client=False)
    client = issue(ca, "office-system", server=False)
    stranger = issue(other, "stranger", server=False)
    return Pki(
        folder / "ca.pem",
        write_issued(server, folder, "server"),
        write_issued(client, folder, "client"),
        folder / "other-ca.pem",
        write_issued(stranger, folder, "stranger"),
    )


# ------------------------------------------------------------------ a scripted partner endpoint


@dataclass
class Partner:
    """Answers each POST with the next scripted (status, headers); records what it got."""

    script: list[tuple[int, dict[str, str]]]
    seen: list[tuple[dict[str, str], bytes, dict[str, Any] | None]] = field(default_factory=list)
    url: str = ""


def _serve(partner: Partner, tls: ssl.SSLContext | None) -> Iterator[Partner]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            peer = self.request.getpeercert() if isinstance(self.request, ssl.SSLSocket) else None
            partner.seen.append((dict(self.headers.items()), body, peer))
            status, headers = (
                partner.script.pop(0) if len(partner.script) > 1 else partner.script[0]
            )
            answer = b"detail the endpoint should not leak"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, *args: Any) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    scheme = "https" if tls else "http"
    partner.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/inbox?office=1"
    try:
        yield partner
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def partner(request: pytest.FixtureRequest) -> Iterator[Partner]:
    script = getattr(request, "param", [(201, {})])
    yield from _serve(Partner(list(script)), None)


def tls_server(pki: Pki, *, client_ca: Path | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*pki.server)
    if client_ca is not None:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def transport(url: str, sleeps: Sleeps | None = None, **options: Any) -> HttpTransport:
    return HttpTransport(
        url, sleep=Sleeps() if sleeps is None else sleeps, jitter=lambda: 0.0, **options
    )


# ------------------------------------------------------------------ out: the hand-over


def test_a_hand_over_is_posted_with_its_ids_and_token(partner: Partner) -> None:
    http = transport(partner.url, token=TOKEN)
    assert isinstance(http, Transport)
    assert http.deliver(handover()) == "HTTP 201"
    ((headers, body, _),) = partner.seen
    assert body == CONTENT
    assert headers["Content-Type"] == "application/xml"
    assert headers["Idempotency-Key"] == MESSAGE_ID.hex()
    assert headers["X-Liaison-Message-Id"] == MESSAGE_ID.hex()
    assert headers["X-Liaison-Kind"] == "enquiry"
    assert headers["X-Liaison-Sender"] == "CN-YN-BLO-HK"
    assert headers["X-Liaison-File-Name"] == f"{MESSAGE_ID.hex()}.xml"
    assert headers["Authorization"] == f"Bearer {TOKEN}"


def test_without_a_token_no_authorization_is_sent(partner: Partner) -> None:
    transport(partner.url).deliver(handover())
    assert "Authorization" not in partner.seen[0][0]


@pytest.mark.parametrize("partner", [[(503, {}), (503, {}), (202, {})]], indirect=True)
def test_a_busy_endpoint_is_tried_again_with_growing_delays(partner: Partner) -> None:
    sleeps = Sleeps()
    assert transport(partner.url, sleeps, attempts=3).deliver(handover()) == "HTTP 202"
    assert len(partner.seen) == 3
    assert sleeps == [0.25, 0.5]  # 0.5 s doubling, jitter() = 0 taking off the most (half)
    keys = {headers["Idempotency-Key"] for headers, _, _ in partner.seen}
    assert keys == {MESSAGE_ID.hex()}  # the endpoint can tell the retries are one message


def test_jitter_takes_off_up_to_half_of_the_delay(partner: Partner) -> None:
    partner.script[:] = [(500, {}), (200, {})]
    sleeps = Sleeps()
    HttpTransport(partner.url, sleep=sleeps, jitter=lambda: 0.999).deliver(handover())
    assert sleeps[0] == pytest.approx(0.5, abs=0.001)


@pytest.mark.parametrize(("retry_after", "waited"), [("7", 7.0), ("86400", 30.0), ("soon", 0.25)])
def test_retry_after_is_honoured_within_bounds(
    partner: Partner, retry_after: str, waited: float
) -> None:
    partner.script[:] = [(429, {"Retry-After": retry_after}), (201, {})]
    sleeps = Sleeps()
    assert transport(partner.url, sleeps).deliver(handover()) == "HTTP 201"
    assert sleeps == [waited]


def test_retry_after_may_be_a_date() -> None:
    assert retry_after_seconds("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0) == 60.0
    assert retry_after_seconds("Thu, 01 Jan 1970 00:01:40 GMT", now=400.0) == 0.0
    assert retry_after_seconds(None, now=0.0) is None


@pytest.mark.parametrize("status", [400, 401, 404, 409, 413, 302])
def test_a_refusal_fails_at_once_without_retries(partner: Partner, status: int) -> None:
    partner.script[:] = [(status, {"Location": "http://127.0.0.1:1/"})]
    sleeps = Sleeps()
    with pytest.raises(TransportError) as caught:
        transport(partner.url, sleeps, token=TOKEN, attempts=5).deliver(handover())
    assert len(partner.seen) == 1
    assert sleeps == []
    assert str(caught.value) == f"hand-over to {partner.url.split('/')[2]} refused: HTTP {status}"
    assert TOKEN not in str(caught.value)
    assert "leak" not in str(caught.value)


@pytest.mark.parametrize("partner", [[(500, {})]], indirect=True)
def test_a_failing_endpoint_is_given_up_after_the_attempts(partner: Partner) -> None:
    sleeps = Sleeps()
    with pytest.raises(TransportError, match=r"failed after 3 attempts: HTTP 500$") as caught:
        transport(partner.url, sleeps, token=TOKEN, attempts=3).deliver(handover())
    assert len(partner.seen) == 3
    assert len(sleeps) == 2
    assert TOKEN not in str(caught.value)


def test_an_endpoint_that_never_answers_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        sleeps = Sleeps()
        with pytest.raises(TransportError, match=r"failed after 2 attempts: timed out") as caught:
            transport(url, sleeps, token=TOKEN, timeout=0.2, attempts=2).deliver(handover())
    assert len(sleeps) == 1
    assert TOKEN not in str(caught.value)


def test_a_closed_port_is_a_connection_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    with pytest.raises(TransportError, match=r"failed after 1 attempt: ConnectionRefusedError"):
        transport(f"http://127.0.0.1:{port}/", attempts=1).deliver(handover())


def test_tls_is_verified_against_the_given_ca(pki: Pki) -> None:
    for partner in _serve(Partner([(201, {})]), tls_server(pki)):
        url = partner.url
        assert transport(url, ca_file=pki.ca).deliver(handover()) == "HTTP 201"
        sleeps = Sleeps()
        with pytest.raises(TransportError, match="TLS certificate not trusted"):
            transport(url, sleeps, ca_file=pki.other_ca, token=TOKEN).deliver(handover())
        with pytest.raises(TransportError, match="TLS certificate not trusted"):
            transport(url, sleeps).deliver(handover())  # the system's CAs do not know ours
        assert sleeps == []  # the same certificate would be presented again
        localhost = url.replace("127.0.0.1", "localhost")
        assert transport(localhost, ca_file=pki.ca).deliver(handover()) == "HTTP 201"
        assert len(partner.seen) == 2


def test_tls_checks_the_host_name(pki: Pki, tmp_path: Path) -> None:
    ca = make_ca()
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())
    cert, key = write_issued(issue(ca, "elsewhere.test", client=False), tmp_path, "srv")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    for partner in _serve(Partner([(201, {})]), context):
        with pytest.raises(TransportError, match="not trusted"):
            transport(partner.url, ca_file=tmp_path / "ca.pem").deliver(handover())


def test_a_client_certificate_is_presented_when_the_endpoint_wants_one(pki: Pki) -> None:
    for partner in _serve(Partner([(201, {})]), tls_server(pki, client_ca=pki.ca)):
        mtls = transport(partner.url, ca_file=pki.ca, cert_file=pki.client[0],
                         key_file=pki.client[1])  # fmt: skip
        assert mtls.deliver(handover()) == "HTTP 201"
        peer = partner.seen[0][2]
        assert peer is not None
        assert ((("commonName", "office-system"),) in peer["subject"]) is True
        with pytest.raises(TransportError):
            transport(partner.url, ca_file=pki.ca, attempts=1).deliver(handover())
        assert len(partner.seen) == 1


def test_plaintext_off_this_machine_is_refused() -> None:
    with pytest.raises(ConfigError, match="in clear"):
        HttpTransport("http://partner.example/inbox")
    with pytest.raises(ConfigError, match="in clear"):
        HttpTransport("http://10.0.0.7:8080/inbox")
    HttpTransport("http://partner.example/inbox", allow_plaintext=True)
    HttpTransport("http://localhost:8080/inbox")
    HttpTransport("http://[::1]:8080/inbox")


@pytest.mark.parametrize(
    "url", ["ftp://partner.example/", "https://user:pw@partner.example/", "https:///x"]
)
def test_unusable_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        HttpTransport(url)


def test_from_config_reads_the_token_through_the_given_reader(
    partner: Partner, tmp_path: Path
) -> None:
    read: list[Path] = []

    def read_secret(path: Path) -> str:
        read.append(path)
        return TOKEN

    section = HandoverSection(transport="http", url=partner.url, token_file=tmp_path / "t",
                              timeout_seconds=2.0, attempts=4)  # fmt: skip
    http = HttpTransport.from_config(section, read_secret)
    assert (http.timeout, http.attempts, read) == (2.0, 4, [tmp_path / "t"])
    http.deliver(handover())
    assert partner.seen[0][0]["Authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(ConfigError, match="in clear"):
        HttpTransport.from_config(HandoverSection(url="http://partner.example/"), read_secret)
    with pytest.raises(ConfigError, match="required"):
        HttpTransport.from_config(HandoverSection(transport="http"), read_secret)


def test_missing_tls_files_are_config_errors_naming_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.pem"):
        HttpTransport("https://partner.example/", ca_file=tmp_path / "nowhere.pem")
    with pytest.raises(ConfigError, match="needs its cert_file"):
        HttpTransport("https://partner.example/", key_file=tmp_path / "key.pem")
    with pytest.raises(ConfigError, match="need an https"):
        HttpTransport("http://127.0.0.1/", ca_file=tmp_path / "ca.pem")


# ------------------------------------------------------------------ in: the partner API


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: dict[str, Any]


def call(
    api: PartnerApi,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    context: ssl.SSLContext | None = None,
) -> Answer:
    host, port = api.address
    connection = (
        http.client.HTTPSConnection(host, port, timeout=5, context=context)
        if context is not None
        else http.client.HTTPConnection(host, port, timeout=5)
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, json.loads(response.read()))
    finally:
        connection.close()


def auth(token: str = TOKEN, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


@pytest.fixture
def pickup(tmp_path: Path) -> Path:
    return tmp_path / "pickup"


@pytest.fixture
def api(pickup: Path) -> Iterator[PartnerApi]:
    endpoint = PartnerApi("127.0.0.1:0", pickup_dir=pickup, suffixes=SUFFIXES, max_bytes=100,
                          token=TOKEN)  # fmt: skip
    endpoint.start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


def submit(api: PartnerApi, name: str = "answer.xml", body: bytes = CONTENT) -> Answer:
    return call(api, "POST", "/v1/files", body, auth(**{"X-Liaison-File-Name": name}))


def test_a_caller_without_the_token_is_turned_away(api: PartnerApi, pickup: Path) -> None:
    for headers in ({}, auth("wrong-token"), {"Authorization": TOKEN}, auth(TOKEN + "x")):
        answer = call(api, "POST", "/v1/files", CONTENT, headers)
        assert answer.status == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert call(api, "GET", "/v1/files/x", None, headers).status == 401
    assert list(pickup.iterdir()) == []


def test_a_file_is_stored_privately_under_our_own_name(api: PartnerApi, pickup: Path) -> None:
    answer = submit(api)
    assert answer.status == 202
    name = answer.body["file"]
    assert NAME_PATTERN.fullmatch(name)
    assert name.endswith(".xml")
    assert answer.body["status_url"] == f"/v1/files/{name}"
    assert answer.headers["Location"] == f"/v1/files/{name}"
    assert (pickup / name).read_bytes() == CONTENT
    assert (pickup / name).stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in pickup.iterdir()) == [name]  # no temporary left behind
    again = submit(api)
    assert again.body["file"] != name


def test_a_path_in_the_file_name_goes_nowhere(api: PartnerApi, pickup: Path) -> None:
    answer = submit(api, "../../etc/x.XML")
    assert answer.status == 202
    assert (pickup / answer.body["file"]).read_bytes() == CONTENT
    assert not (pickup.parent / "etc").exists()
    assert submit(api, "..\\..\\x.csv").body["file"].endswith(".csv")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"X-Liaison-File-Name": "tool.exe"}, 415),
        ({"X-Liaison-File-Name": "no-suffix"}, 415),
        ({"X-Liaison-File-Name": "a.xml.sh", "Content-Type": "application/xml"}, 415),
        ({}, 415),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/json; charset=utf-8"}, 202),
        ({"Content-Type": "text/csv"}, 202),
    ],
)
def test_the_file_type_comes_from_the_name_else_the_content_type(
    api: PartnerApi, pickup: Path, headers: dict[str, str], status: int
) -> None:
    answer = call(api, "POST", "/v1/files", CONTENT, auth(**headers))
    assert answer.status == status
    assert len(list(pickup.iterdir())) == (1 if status == 202 else 0)


def test_suffix_of() -> None:
    assert suffix_of("C:\\exports\\Answer.XLSX", None) == ".xlsx"
    assert suffix_of(None, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet") \
        == ".xlsx"  # fmt: skip
    assert suffix_of("", None) is None


def test_an_oversize_file_is_refused_before_it_is_read(api: PartnerApi, pickup: Path) -> None:
    assert submit(api, body=b"x" * 101).status == 413
    assert submit(api, body=b"x" * 100).status == 202
    assert len(list(pickup.iterdir())) == 1


def test_an_oversize_file_announced_with_expect_100_is_refused_unsent(api: PartnerApi) -> None:
    host, port = api.address
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.putrequest("POST", "/v1/files")
        for name, value in auth(**{"Content-Length": "5000000", "Expect": "100-continue",
                                   "X-Liaison-File-Name": "a.xml"}).items():  # fmt: skip
            connection.putheader(name, value)
        connection.endheaders()  # and no body: we wait for the verdict, as curl does
        assert connection.getresponse().status == 413
    finally:
        connection.close()


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_without_a_length_is_refused(api: PartnerApi, pickup: Path, chunked: bool) -> None:
    host, port = api.address
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.putrequest("POST", "/v1/files")
        for name, value in auth(**{"X-Liaison-File-Name": "a.xml"}).items():
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders(b"5\r\nhello\r\n0\r\n\r\n" if chunked else None)
        assert connection.getresponse().status == 411
    finally:
        connection.close()
    assert list(pickup.iterdir()) == []


def test_unknown_routes_and_methods(api: PartnerApi) -> None:
    assert call(api, "GET", "/v2/files", None, auth()).status == 404
    answer = call(api, "GET", "/v1/files", None, auth())
    assert (answer.status, answer.headers["Allow"]) == (405, "POST")
    assert call(api, "PUT", "/v1/files", CONTENT, auth()).status == 501


def test_the_status_of_a_file_follows_it(api: PartnerApi, pickup: Path) -> None:
    first, second = submit(api).body["file"], submit(api).body["file"]
    assert call(api, "GET", f"/v1/files/{first}", None, auth()).body == {
        "file": first, "status": "pending"}  # fmt: skip
    folder = PickupFolder(pickup, max_bytes=100)
    result: dict[str, object] = {"message_id": "ab" * 16, "kind": "response"}
    folder.succeeded(Picked(pickup / first, len(CONTENT)), result)
    folder.refused(Picked(pickup / second, len(CONTENT)), "row 4, column phone: not E.164")
    assert call(api, "GET", f"/v1/files/{first}", None, auth()).body == {
        "file": first, "status": "done", "result": result}  # fmt: skip
    assert call(api, "GET", f"/v1/files/{second}", None, auth()).body == {
        "file": second, "status": "failed", "reason": "row 4, column phone: not E.164"}  # fmt: skip
    unknown = "20250101T000000-0123456789ab.xml"
    assert call(api, "GET", f"/v1/files/{unknown}", None, auth()).status == 404
    for bad in ("..%2F..%2Fetc%2Fpasswd", "done", f"{first}.result.json", "x.xml"):
        assert call(api, "GET", f"/v1/files/{bad}", None, auth()).status == 404


def test_a_moved_file_without_its_note_yet_is_still_pending(api: PartnerApi, pickup: Path) -> None:
    name = submit(api).body["file"]
    (pickup / "done").mkdir()
    (pickup / name).rename(pickup / "done" / name)
    assert call(api, "GET", f"/v1/files/{name}", None, auth()).body["status"] == "pending"


def test_the_log_says_what_happened_but_not_what_was_sent(pickup: Path) -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", level="info", stream=stream)
    endpoint = PartnerApi("127.0.0.1:0", pickup_dir=pickup, suffixes=SUFFIXES, max_bytes=100,
                          token=TOKEN)  # fmt: skip
    endpoint.start()
    try:
        stored = submit(endpoint, "secret-case-name.xml").body["file"]
        call(endpoint, "POST", "/v1/files", CONTENT, auth("wrong-token"))
    finally:
        endpoint.stop()
        structlog.reset_defaults()
    out = stream.getvalue()
    records = [json.loads(line) for line in out.splitlines()]
    requests = [r for r in records if r["event"] == "partner_api_request"]
    assert [(r["path"], r["status"]) for r in requests] == [
        ("POST /v1/files", 202), ("POST /v1/files", 401)]  # fmt: skip
    assert requests[0]["size"] == len(CONTENT)
    assert requests[0]["file"] == stored
    for secret in (TOKEN, "wrong-token", "secret-case-name", "Nguyen"):
        assert secret not in out


def test_mtls_lets_only_certified_callers_connect(pki: Pki, pickup: Path) -> None:
    endpoint = PartnerApi("127.0.0.1:0", pickup_dir=pickup, suffixes=SUFFIXES, max_bytes=100,
                          cert_file=pki.server[0], key_file=pki.server[1],
                          client_ca_file=pki.ca)  # fmt: skip
    endpoint.start()
    try:
        certified = ssl.create_default_context(cafile=pki.ca)
        certified.load_cert_chain(*pki.client)
        headers = {"X-Liaison-File-Name": "a.json"}
        answer = call(endpoint, "POST", "/v1/files", CONTENT, headers, context=certified)
        assert answer.status == 202
        anonymous = ssl.create_default_context(cafile=pki.ca)
        other = ssl.create_default_context(cafile=pki.ca)
        other.load_cert_chain(*pki.stranger)
        for context in (anonymous, other):
            with pytest.raises((ssl.SSLError, ConnectionError)):  # which one depends on timing
                call(endpoint, "POST", "/v1/files", CONTENT, headers, context=context)
        assert len(list(pickup.iterdir())) == 1
    finally:
        endpoint.stop()


def test_tls_with_a_token_needs_both(pki: Pki, pickup: Path) -> None:
    endpoint = PartnerApi("127.0.0.1:0", pickup_dir=pickup, suffixes=SUFFIXES, max_bytes=100,
                          token=TOKEN, cert_file=pki.server[0], key_file=pki.server[1])  # fmt: skip
    endpoint.start()
    try:
        trusting = ssl.create_default_context(cafile=pki.ca)
        headers = {"X-Liaison-File-Name": "a.csv"}
        assert call(endpoint, "POST", "/v1/files", CONTENT, headers, context=trusting).status == 401
        answer = call(endpoint, "POST", "/v1/files", CONTENT, auth(**headers), context=trusting)
        assert answer.status == 202
    finally:
        endpoint.stop()


def test_an_open_or_exposed_endpoint_cannot_be_built(pki: Pki, pickup: Path) -> None:
    common: dict[str, Any] = {"pickup_dir": pickup, "suffixes": SUFFIXES, "max_bytes": 100}
    with pytest.raises(ConfigError, match="token_file, client_ca_file or both"):
        PartnerApi("127.0.0.1:0", **common)
    with pytest.raises(ConfigError, match="reachable from other machines"):
        PartnerApi("0.0.0.0:8443", token=TOKEN, **common)
    with pytest.raises(ConfigError, match="need cert_file"):
        PartnerApi("127.0.0.1:0", client_ca_file=pki.ca, **common)
    with pytest.raises(ConfigError, match="printable ASCII"):
        PartnerApi("127.0.0.1:0", token="", **common)
    with pytest.raises(ConfigError, match="suffixes"):
        PartnerApi("127.0.0.1:0", token=TOKEN, **{**common, "suffixes": ("xml",)})
    PartnerApi("0.0.0.0:8443", token=TOKEN, cert_file=pki.server[0], key_file=pki.server[1],
               **common)  # fmt: skip


def test_from_config(pickup: Path, tmp_path: Path) -> None:
    section = PartnerApiSection(listen="127.0.0.1:0", token_file=tmp_path / "token")
    endpoint = PartnerApi.from_config(section, pickup_dir=pickup, suffixes=SUFFIXES,
                                      max_bytes=100, read_secret=lambda _path: TOKEN)  # fmt: skip
    endpoint.start()
    try:
        assert submit(endpoint).status == 202
    finally:
        endpoint.stop()
    with pytest.raises(ConfigError, match="token_file, client_ca_file or both"):
        PartnerApi.from_config(PartnerApiSection(listen="127.0.0.1:0"), pickup_dir=pickup,
                               suffixes=SUFFIXES, max_bytes=100,
                               read_secret=lambda _path: TOKEN)  # fmt: skip


def test_a_taken_port_is_a_config_error(api: PartnerApi, pickup: Path) -> None:
    host, port = api.address
    clash = PartnerApi(f"{host}:{port}", pickup_dir=pickup, suffixes=SUFFIXES, max_bytes=100,
                       token=TOKEN)  # fmt: skip
    with pytest.raises(ConfigError, match="cannot listen"):
        clash.start()


def _raw_headers(length: int) -> bytes:
    lines = ["POST /v1/files HTTP/1.1", "Host: x", f"Authorization: Bearer {TOKEN}",
             "X-Liaison-File-Name: a.xml", f"Content-Length: {length}", "", ""]  # fmt: skip
    return "\r\n".join(lines).encode()


def test_a_slow_body_is_given_up_and_nothing_is_stored(pickup: Path) -> None:
    endpoint = PartnerApi("127.0.0.1:0", pickup_dir=pickup, suffixes=SUFFIXES, max_bytes=100,
                          token=TOKEN, timeout=0.3)  # fmt: skip
    endpoint.start()
    try:
        with socket.create_connection(endpoint.address, timeout=5) as slow:
            slow.sendall(_raw_headers(50) + b"only ten b")
            assert slow.recv(4096).startswith(b"HTTP/1.1 408 ")
        with socket.create_connection(endpoint.address, timeout=5) as quitter:
            quitter.sendall(_raw_headers(50) + b"only ten b")
            quitter.shutdown(socket.SHUT_WR)
            assert quitter.recv(4096) == b""  # no answer to a caller that left
    finally:
        endpoint.stop()
    assert list(pickup.iterdir()) == []


def test_a_caller_trickling_bytes_is_cut_off_at_the_whole_request_deadline(
    pickup: Path,
) -> None:
    endpoint = PartnerApi("127.0.0.1:0", pickup_dir=pickup, suffixes=SUFFIXES, max_bytes=100,
                          token=TOKEN, timeout=0.4)  # fmt: skip
    endpoint.start()
    try:
        with socket.create_connection(endpoint.address, timeout=5) as slow:
            slow.sendall(_raw_headers(50))
            slow.settimeout(0.1)
            started, ended = time.monotonic(), False
            while not ended and time.monotonic() - started < 5:
                try:
                    slow.sendall(b"x")  # one byte per 0.1 s: each read is within the timeout
                    ended = slow.recv(4096) == b""  # closed by the server
                except TimeoutError:
                    continue  # still open
                except OSError:
                    ended = True  # reset by the server
            assert ended  # without the deadline it would still be open after 5 s
    finally:
        endpoint.stop()
    assert list(pickup.iterdir()) == []


def test_connections_beyond_the_limit_are_closed(pickup: Path) -> None:
    endpoint = PartnerApi("127.0.0.1:0", pickup_dir=pickup, suffixes=SUFFIXES, max_bytes=100,
                          token=TOKEN, max_connections=1)  # fmt: skip
    endpoint.start()
    try:
        with socket.create_connection(endpoint.address, timeout=5) as holder:
            holder.sendall(b"POST /v1/files HTTP/1.1\r\n")  # and holds its one slot
            with pytest.raises(ConnectionError):
                submit(endpoint)
            holder.sendall(_raw_headers(len(CONTENT))[len(b"POST /v1/files HTTP/1.1\r\n") :])
            holder.sendall(CONTENT)
            assert holder.recv(4096).startswith(b"HTTP/1.1 202 ")
        for _ in range(100):  # the slot is given back when the holder's thread ends
            try:
                assert submit(endpoint).status == 202
                break
            except ConnectionError:
                threading.Event().wait(0.05)
        else:
            pytest.fail("the slot was never given back")
    finally:
        endpoint.stop()
    assert len(list(pickup.iterdir())) == 2


def test_an_encrypted_key_is_refused_rather_than_prompted_for(pki: Pki, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    issued = issue(make_ca(), "office-system", server=False)
    locked = tmp_path / "locked-key.pem"
    locked.write_bytes(issued.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase")))  # fmt: skip
    (tmp_path / "cert.pem").write_bytes(issued.cert_pem())
    with pytest.raises(ConfigError, match=r"locked-key\.pem"):
        HttpTransport("https://partner.example/", cert_file=tmp_path / "cert.pem", key_file=locked)
    with pytest.raises(ConfigError, match=r"locked-key\.pem"):
        PartnerApi("127.0.0.1:0", pickup_dir=tmp_path, suffixes=SUFFIXES, max_bytes=1,
                   token=TOKEN, cert_file=tmp_path / "cert.pem", key_file=locked)  # fmt: skip

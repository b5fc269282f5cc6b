"""Structured logs never carry case content or key material, whatever a developer passes."""

import io
import json

import pytest

from broker.errors import KeyFileError, PeerError, RejectReason
from broker.log import REDACTED, configure_logging, get_logger

SECRET_TEXT = "Nguyễn Thị Lan, born 2011, last seen in Hà Giang"
KEY = bytes(range(32))


@pytest.fixture
def lines() -> io.StringIO:
    stream = io.StringIO()
    configure_logging(fmt="json", level="debug", stream=stream)
    return stream


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    "field",
    ["summary", "question", "payload", "plaintext", "names", "phone", "cek", "private_key",
     "passphrase", "password", "seed", "attachment", "body", "text", "content", "message"],
)  # fmt: skip
def test_content_and_key_fields_are_redacted(lines: io.StringIO, field: str) -> None:
    get_logger("test").info("received", **{field: SECRET_TEXT})
    get_logger("test").info("received", **{field: KEY})
    out = lines.getvalue()
    assert SECRET_TEXT not in out
    assert KEY.hex() not in out
    assert all(record[field] == REDACTED for record in _records(lines))


def test_metadata_passes_and_ids_render_as_hex(lines: io.StringIO) -> None:
    get_logger("daemon").info(
        "handed over", message_id=b"\x01\x02", sender="CN-YN-BLO-HK", size=2048, reason="replay"
    )
    (record,) = _records(lines)
    assert record["message_id"] == "0102"
    assert record["sender"] == "CN-YN-BLO-HK"
    assert record["size"] == 2048
    assert record["component"] == "daemon"
    assert record["level"] == "info"


def test_bytes_under_a_safe_name_that_is_not_an_id_are_redacted(lines: io.StringIO) -> None:
    get_logger("t").info("x", size=KEY)
    assert _records(lines)[0]["size"] == REDACTED


def test_objects_are_redacted_even_under_safe_names(lines: io.StringIO) -> None:
    class Leaky:
        def __str__(self) -> str:
            return SECRET_TEXT

    get_logger("t").info("x", sender=Leaky(), recipients=["VN-BCA-C02", Leaky()])
    (record,) = _records(lines)
    assert SECRET_TEXT not in lines.getvalue()
    assert record["recipients"] == ["VN-BCA-C02", REDACTED]


def test_url_passwords_are_masked(lines: io.StringIO) -> None:
    get_logger("t").info("connecting", url="amqp://office:hunter2@127.0.0.1:5672/liaison")
    assert "hunter2" not in lines.getvalue()
    assert _records(lines)[0]["url"] == f"amqp://office:{REDACTED}@127.0.0.1:5672/liaison"


def _fail_with(text: str) -> None:
    raise RuntimeError(text)


def test_exceptions_keep_only_type_and_our_diagnosis(lines: io.StringIO) -> None:
    log = get_logger("t")
    try:
        _fail_with(SECRET_TEXT)
    except RuntimeError:
        log.exception("failed")
    log.error("rejected", exc_info=PeerError(RejectReason.REPLAY, "id seen before"))
    log.error("keys", exc_info=KeyFileError("key file k.key is readable by others"))
    first, second, third = _records(lines)
    assert SECRET_TEXT not in lines.getvalue()
    assert first["error_type"] == "RuntimeError"
    assert "error" not in first
    assert second["error"] == "message rejected (replay): id seen before"
    assert third["error"] == "key file k.key is readable by others"


def test_level_filtering(lines: io.StringIO) -> None:
    configure_logging(fmt="json", level="warning", stream=lines)
    get_logger("t").info("quiet")
    get_logger("t").warning("loud")
    assert [r["event"] for r in _records(lines)] == ["loud"]


def test_console_format_is_readable_and_redacted() -> None:
    stream = io.StringIO()
    configure_logging(fmt="auto", stream=stream)  # not a tty: json
    get_logger("t").info("hello", summary=SECRET_TEXT)
    assert json.loads(stream.getvalue())["summary"] == REDACTED
    stream = io.StringIO()
    configure_logging(fmt="console", stream=stream)
    get_logger("t").info("hello", office="LA-MOPS-ATD", summary=SECRET_TEXT)
    text = stream.getvalue()
    assert "hello" in text
    assert "LA-MOPS-ATD" in text
    assert SECRET_TEXT not in text


def test_a_logger_made_before_configuration_is_still_redacted() -> None:
    early = get_logger("made-at-import")
    stream = io.StringIO()
    configure_logging(fmt="json", stream=stream)
    early.info("x", summary=SECRET_TEXT)
    assert SECRET_TEXT not in stream.getvalue()
    assert json.loads(stream.getvalue())["summary"] == REDACTED

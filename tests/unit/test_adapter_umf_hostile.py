"""Hostile partner XML: each refused with an AdapterInputError naming a place, quickly and without
blowing up; the inputs are modest in size but would explode or leak through a naive parser."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from adapters.base import AdapterInputError
from adapters.umf import CODEC, LIMITS, Limits
from adapters.umf.safe_xml import parse

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = (ROOT / "adapters" / "umf" / "examples" / "identity-check.xml").read_bytes()
HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'
OPEN = b'<Message xmlns="urn:liaison:partner:umf:1" version="1">'


@contextmanager
def quickly(limit: float = 10.0) -> Iterator[None]:
    # A bound against hangs and blow-ups, not a speed goal: generous so a busy CI machine passes.
    start = time.perf_counter()
    yield
    assert time.perf_counter() - start < limit


def refused(data: bytes) -> AdapterInputError:
    with quickly(), pytest.raises(AdapterInputError) as caught:
        CODEC.decode(data)
    return caught.value


BILLION_LAUGHS = (
    HEAD
    + b"<!DOCTYPE Message [\n"
    + b'<!ENTITY lol0 "lol">\n'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">\n'.encode() for i in range(1, 10)
    )
    + b"]>\n"
    + OPEN
    + b"&lol9;</Message>"
)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (BILLION_LAUGHS, "DOCTYPE"),
        (
            HEAD + b'<!DOCTYPE Message [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            + OPEN + b"&x;</Message>",
            "DOCTYPE",
        ),
        (HEAD + b'<!DOCTYPE Message SYSTEM "http://example.invalid/umf.dtd">' + OPEN
         + b"</Message>", "DOCTYPE"),
        (
            HEAD + b'<!DOCTYPE Message [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
            + OPEN + b"</Message>",
            "DOCTYPE",
        ),
    ],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity"],
)  # fmt: skip
def test_any_doctype_is_refused(data: bytes, problem: str) -> None:
    error = refused(data)
    assert problem in str(error)
    assert "root:" not in str(error)


def test_xinclude_is_refused_and_never_processed() -> None:
    include = (
        b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"'
        b' parse="text"/>'
    )
    error = refused(GOLDEN.replace(b"<Entities>", include + b"<Entities>"))
    assert error.where == "/Message/include"
    assert "XInclude" in str(error)


def test_ten_thousand_levels_of_nesting_are_refused_while_streaming() -> None:
    data = HEAD + OPEN + b"<Header>" * 10_000 + b"</Header>" * 10_000 + b"</Message>"
    error = refused(data)
    assert "deeper" in str(error)
    assert error.where.count("/") == LIMITS.max_depth + 1


def test_a_huge_attribute_is_refused_at_its_name() -> None:
    data = GOLDEN.replace(b'role="SUSPECT"', b'role="' + b"A" * (5 * 1024 * 1024) + b'"')
    error = refused(data)
    assert error.where == "/Message/Entities/Person/@role"
    assert "longer" in str(error)


def test_huge_text_is_refused_at_its_element() -> None:
    data = GOLDEN.replace(b"<Summary>", b"<Summary>" + b"x" * (3 * 1024 * 1024))
    assert refused(data).where == "/Message/Request/Summary"


def test_too_many_elements_are_refused() -> None:
    data = HEAD + OPEN + b"<Extension key='k'>x</Extension>" * 200 + b"</Message>"
    with quickly(), pytest.raises(AdapterInputError, match="more than 100 elements"):
        parse(data, Limits(max_elements=100))


def test_oversized_input_is_refused_before_parsing() -> None:
    error = refused(b" " * (CODEC.max_input_bytes + 1))
    assert "larger than" in str(error)


def test_a_declared_encoding_other_than_utf8_is_refused() -> None:
    data = GOLDEN.replace(b'encoding="UTF-8"', b'encoding="UTF-16"')
    error = refused(data)
    assert (error.where, "UTF-8" in str(error)) == ("line 1", True)


def test_bytes_that_are_not_utf8_are_refused_at_their_offset() -> None:
    data = GOLDEN.replace("郑".encode(), "é".encode("latin-1"), 1)
    error = refused(data)
    offset = data.index("é".encode("latin-1"))
    assert error.where == f"byte {offset}"


def test_a_truncated_file_is_refused_with_its_line() -> None:
    error = refused(GOLDEN[: len(GOLDEN) // 2])
    assert error.where.startswith("line ")
    assert "well-formed" in str(error)


def test_a_utf8_bom_is_accepted() -> None:
    assert CODEC.decode(b"\xef\xbb\xbf" + GOLDEN).message == CODEC.decode(GOLDEN).message


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
     (b"\x00\x00\xfe\xff", "utf-32-be")],
)  # fmt: skip
def test_other_byte_order_marks_are_refused(bom: bytes, encoding: str) -> None:
    data = bom + GOLDEN.decode("utf-8").replace("UTF-8", encoding.upper()).encode(encoding)
    error = refused(data)
    assert error.where == "byte 0"
    assert "only UTF-8" in str(error)


def test_mixed_newlines_in_text_are_read_as_line_feeds() -> None:
    data = GOLDEN.replace(b"They name the recruiter", b"One\r\ntwo\rthree\nfour. They name")
    summary = CODEC.decode(data).message.summary  # type: ignore[union-attr]
    assert "One\ntwo\nthree\nfour." in summary
    assert "\r" not in summary


def test_comments_and_processing_instructions_are_dropped() -> None:
    data = GOLDEN.replace(b"<Entities>", b"<!-- note --><?partner hint?><Entities>")
    assert CODEC.decode(data).message == CODEC.decode(GOLDEN).message


def test_valid_xml_that_breaks_the_schema_names_the_place() -> None:
    data = GOLDEN.replace(b"<Priority>NORMAL</Priority>", b"<Priority>WHENEVER</Priority>")
    error = refused(data)
    assert error.where == "/Message/Header/Priority"
    assert "WHENEVER" not in str(error)
    assert "liaison-umf-1.xsd" in str(error)


def test_a_foreign_root_is_refused() -> None:
    assert refused(HEAD + b"<Message><Header/></Message>").where == "/Message"


ATTACHMENT = (
    b"<Attachments><Attachment><FileName>{name}</FileName><MediaType>text/plain</MediaType>"
    b"<Sha256>2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824</Sha256>"
    b"<Content><Part>aGVsbG8=</Part></Content></Attachment></Attachments>"
)


@pytest.mark.parametrize(
    "name", [b"../../etc/passwd", b"..\\..\\boot.ini", b"/etc/passwd", b"..", b"a/b.txt"]
)
def test_attachment_names_with_a_directory_part_are_refused(name: bytes) -> None:
    data = GOLDEN.replace(b"</Message>", ATTACHMENT.replace(b"{name}", name) + b"</Message>")
    error = refused(data)
    assert error.where == "/Message/Attachments/Attachment/FileName"
    assert "bare file name" in str(error)
    assert b"hello" not in str(error).encode()


def test_a_bare_attachment_name_is_accepted() -> None:
    data = GOLDEN.replace(
        b"</Message>", ATTACHMENT.replace(b"{name}", b"hello.txt") + b"</Message>"
    )
    attachment = CODEC.decode(data).message.attachments[0]  # type: ignore[union-attr]
    assert (attachment.name, attachment.content) == ("hello.txt", b"hello")


def test_text_instead_of_bytes_is_refused() -> None:
    with pytest.raises(AdapterInputError, match="bytes"):
        CODEC.decode(GOLDEN.decode("utf-8"))  # type: ignore[arg-type]

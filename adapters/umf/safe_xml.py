"""Hardened reading of a partner's XML: size, encoding and shape gates, then the schema.

Order of the gates, cheapest first: a byte-size cap; UTF-8 only (a UTF-8 BOM is dropped, any other
BOM refused, and an XML declaration may name no other encoding); a streaming pass with defusedxml's
expat parser that refuses any DOCTYPE, entity or external reference and caps depth, element count,
attribute and text sizes without building a tree; then lxml with entities, DTDs and the network
off; then the packaged XSD. Every refusal is an AdapterInputError naming a place, never content.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # only its ParseError: parsing goes through defusedxml
from dataclasses import dataclass
from functools import cache
from importlib.resources import as_file, files
from typing import Any

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import DefusedXMLParser  # type: ignore[import-untyped]
from lxml import etree  # type: ignore[import-untyped]

from adapters.base import AdapterInputError
from adapters.umf.writing import NS

SCHEMA_FILE = "liaison-umf-1.xsd"
XINCLUDE_NS = "http://www.w3.org/2001/XInclude"
MAX_REPORTED = 20  # schema problems listed in one error; the count says if there were more
_FOREIGN_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)
_UTF8_BOM = b"\xef\xbb\xbf"
_DECLARED = re.compile(rb"""<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")


@dataclass(frozen=True, slots=True)
class Limits:
    """What a partner's file may be; larger or deeper input is refused before lxml sees it."""

    # 12 MiB of attachments is 16 MiB in base64, plus the text around it.
    max_input_bytes: int = 24 * 1024 * 1024
    # The schema is 6 levels deep; anything much deeper is hostile.
    max_depth: int = 16
    # 100 persons with 40 names each, their documents, means and links stay far below this.
    max_elements: int = 60_000
    # Our attributes are ids and codes; a long one is an attack on the parser.
    max_attribute_chars: int = 2 * 1024 * 1024
    # One base64 part is 1 MiB; free text is 20,000 characters.
    max_text_chars: int = 2 * 1024 * 1024


LIMITS = Limits()


def parse(data: bytes, limits: Limits = LIMITS) -> etree._Element:
    """The validated ``Message`` element of a partner's file."""
    if not isinstance(data, bytes):
        raise AdapterInputError("", "the input must be bytes")
    if len(data) > limits.max_input_bytes:
        raise AdapterInputError("", f"the file is larger than {limits.max_input_bytes} bytes")
    data = _utf8_body(data)
    _gate(data, limits)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 0
        raise AdapterInputError(f"line {line}", "not well-formed XML") from None
    if root.getroottree().docinfo.doctype:  # the gate refused it already; belt and braces
        raise AdapterInputError("/", "a DOCTYPE is not allowed")
    for element in root.iter(f"{{{XINCLUDE_NS}}}*"):
        raise AdapterInputError(element_path(element), "XInclude is not allowed")
    for name in root.iter(f"{{{NS}}}FileName"):
        text = name.text or ""
        if "/" in text or "\\" in text or text.strip() in (".", ".."):
            raise AdapterInputError(
                element_path(name), "must be a bare file name, no directory part"
            )
    validate(root)
    return root


def validate(root: etree._Element) -> None:
    """AdapterInputError listing where the element tree breaks the packaged XSD."""
    checker = schema()
    if checker.validate(root):
        return
    problems = [
        f"{_located(root, entry)}: {_problem(entry)}"
        for entry in list(checker.error_log)[:MAX_REPORTED]
    ]
    count = len(checker.error_log)
    more = f" (and {count - MAX_REPORTED} more)" if count > MAX_REPORTED else ""
    first, _, rest = problems[0].partition(": ")
    others = "; ".join(problems[1:])
    raise AdapterInputError(
        first, f"{rest}{'; ' + others if others else ''}{more} (schema {SCHEMA_FILE})"
    )


@cache
def schema() -> etree.XMLSchema:
    """The packaged XSD (loaded once, from local files only)."""
    resource = files("adapters.umf") / "schema" / SCHEMA_FILE
    with as_file(resource) as path:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        return etree.XMLSchema(etree.parse(str(path), parser))


def element_path(element: etree._Element) -> str:
    """``/Message/Entities/Person[2]/DateOfBirth``: local names, indices where siblings repeat."""
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            same = [child for child in parent if child.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        steps.append(name)
        node = parent
    return "/" + "/".join(reversed(steps))


# ---------------------------------------------------------------- gates


def _utf8_body(data: bytes) -> bytes:
    for bom, encoding in _FOREIGN_BOMS:
        if data.startswith(bom):
            raise AdapterInputError("byte 0", f"a {encoding} byte-order mark: only UTF-8 is read")
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AdapterInputError(f"byte {exc.start}", "the file is not valid UTF-8") from None
    declared = _DECLARED.match(data)
    if declared and declared.group(1).upper().replace(b"_", b"-") not in (b"UTF-8", b"UTF8"):
        raise AdapterInputError("line 1", "the XML declaration names an encoding other than UTF-8")
    return data


class _Gate:
    """An expat target that counts instead of building: depth, elements, attribute and text size."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.depth = 0
        self.elements = 0
        self.text = 0
        self.path: list[str] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        self.elements += 1
        self.text = 0
        self.path.append(tag.rpartition("}")[2])
        if self.depth > self.limits.max_depth:
            raise _Refused(self._where(), f"elements nest deeper than {self.limits.max_depth}")
        if self.elements > self.limits.max_elements:
            raise _Refused(self._where(), f"more than {self.limits.max_elements} elements")
        for name, value in attrib.items():
            if len(value) > self.limits.max_attribute_chars:
                local = name.rpartition("}")[2]
                raise _Refused(
                    f"{self._where()}/@{local}",
                    f"the attribute is longer than {self.limits.max_attribute_chars} characters",
                )

    def end(self, tag: str) -> None:  # noqa: ARG002 - the target protocol passes it
        self.depth -= 1
        self.text = 0
        self.path.pop()

    def data(self, text: str) -> None:
        self.text += len(text)
        if self.text > self.limits.max_text_chars:
            raise _Refused(
                self._where(), f"the text is longer than {self.limits.max_text_chars} characters"
            )

    def close(self) -> None:
        return None

    def _where(self) -> str:
        return "/" + "/".join(self.path)


class _Refused(Exception):
    """Internal signal from the gate, turned into an AdapterInputError."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(problem)
        self.where = where
        self.problem = problem


def _gate(data: bytes, limits: Limits) -> None:
    gate = _Gate(limits)
    parser = DefusedXMLParser(
        target=gate, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(data)
        parser.close()
    except _Refused as exc:
        raise AdapterInputError(exc.where, exc.problem) from None
    except DefusedXmlException as exc:
        raise AdapterInputError("/", _defused_problem(exc)) from None
    except ET.ParseError as exc:
        line, column = exc.position
        raise AdapterInputError(f"line {line}, column {column}", "not well-formed XML") from None
    except RecursionError:  # pragma: no cover - the depth cap stops this first
        raise AdapterInputError("/", "elements nest too deep") from None


def _defused_problem(exc: DefusedXmlException) -> str:
    kind = type(exc).__name__
    if kind == "DTDForbidden":
        return "a DOCTYPE is not allowed"
    if kind == "EntitiesForbidden":
        return "entity declarations are not allowed"
    if kind == "ExternalReferenceForbidden":
        return "external references are not allowed"
    return "forbidden XML construct"


# ---------------------------------------------------------------- schema errors

# libxml2's messages quote the offending value; we say what kind of rule failed instead. The
# first marker found in the error's type name wins, so the specific ones come first.
_PROBLEMS = (
    ("ENUMERATION", "the value is not one of the codes the schema lists"),
    ("LENGTH", "the value is too long or too short"),
    ("PATTERN", "the value does not have the form the schema requires"),
    ("DATATYPE", "the value is not of the type the schema expects"),
    ("ELEMENT_CONTENT", "an element is missing, unexpected or out of order here"),
    ("COMPLEX_TYPE_3_2", "this attribute is not allowed here"),
    ("COMPLEX_TYPE_4", "a required attribute is missing"),
    ("TYPE_3_1", "this element may hold only text"),
    ("COMPLEX_TYPE_2", "this element may hold no text"),
)
_ATTRIBUTE = re.compile(r"attribute '([A-Za-z_:{}./0-9-]{1,80})'")


def _problem(entry: Any) -> str:
    type_name = str(entry.type_name)
    for marker, text in _PROBLEMS:
        if marker in type_name:
            return text
    return "does not match the schema"


def _located(root: etree._Element, entry: Any) -> str:
    """The element path of a schema error (libxml2's own path uses namespace-heavy XPath)."""
    raw = str(entry.path or "")
    if raw:
        try:
            found = root.getroottree().xpath(raw)
        except etree.XPathError:
            found = []
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            attribute = _ATTRIBUTE.search(str(entry.message))
            suffix = "/@" + attribute.group(1).rpartition("}")[2] if attribute else ""
            return element_path(found[0]) + suffix
    return f"line {entry.line}"


__all__ = ["LIMITS", "NS", "Limits", "element_path", "parse", "schema", "validate"]

"""The ``umf`` codec: canonical messages <-> UMF-inspired XML (schema/liaison-umf-1.xsd).

Every document is checked against the packaged XSD in both directions: what we write must be
valid before it leaves, and what a partner sends is read through the hardened gates of
:mod:`adapters.umf.safe_xml` first.
"""

from __future__ import annotations

from lxml import etree  # type: ignore[import-untyped]

from adapters.base import AdapterInputError, Decoded, Encoded
from adapters.umf import safe_xml
from adapters.umf.reading import Reader
from adapters.umf.writing import to_tree
from broker.errors import InputError
from broker.messages import Message

MEDIA_TYPE = "application/xml"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


class UmfCodec:
    """UMF-inspired XML for EU partners: own namespace and XSD, nothing lost."""

    name: str = "umf"
    description: str = "UMF-inspired XML for EU partners (own namespace and XSD, nothing lost)"
    suffixes: tuple[str, ...] = (".xml",)
    max_input_bytes: int = safe_xml.LIMITS.max_input_bytes

    def encode(self, message: Message, *, variant: str | None = None) -> Encoded:
        """Indented UTF-8 XML with a declaration; the format has one form (``variant`` None)."""
        if variant is not None:
            raise InputError("the umf adapter has no variants")
        root = to_tree(message)
        try:
            safe_xml.validate(root)
        except AdapterInputError as exc:  # pragma: no cover - a bug in the writer, not input
            raise InputError(f"the umf writer produced an invalid document: {exc}") from None
        etree.indent(root, space="  ")
        body = etree.tostring(root, xml_declaration=False, encoding="UTF-8")
        data = XML_DECLARATION + body + b"\n"
        return Encoded(data=data, media_type=MEDIA_TYPE, suffix=".xml")

    def decode(self, data: bytes, *, suffix: str | None = None) -> Decoded:  # noqa: ARG002
        """The canonical message in a partner's XML; AdapterInputError naming the element.
        ``suffix`` is not needed: the format has one form."""
        root = safe_xml.parse(data)
        reader = Reader()
        message = reader.message(root)
        return Decoded(
            message=message, losses=tuple(reader.losses), warnings=tuple(reader.warnings)
        )


CODEC = UmfCodec()

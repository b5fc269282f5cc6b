"""Links between entities: which person holds each document and uses each communication means.

Every Document needs exactly one HOLDER link and every CommunicationMeans exactly one USER link,
each from a Person: the canonical model nests them in their person, so an unlinked or doubly
linked one has no place to go. The schema has already checked that every id reference resolves.
"""

from __future__ import annotations

from lxml import etree  # type: ignore[import-untyped]

from adapters.base import AdapterInputError
from adapters.umf.safe_xml import element_path
from adapters.umf.writing import q

_ROLE_OF = {q("Document"): "HOLDER", q("CommunicationMeans"): "USER"}


def owned_by(root: etree._Element, entities: etree._Element) -> dict[str, list[etree._Element]]:
    """Person id -> the documents and means linked to it, in document order."""
    persons = {str(e.get("id")) for e in entities.iterchildren(q("Person"))}
    targets = {str(e.get("id")): e for e in entities if e.tag in _ROLE_OF}  # ids are unique: xs:ID
    owner: dict[str, str] = {}
    for link in root.iterfind(f"{q('Links')}/{q('Link')}"):
        where = element_path(link)
        source, target, role = str(link.get("from")), str(link.get("to")), link.get("role")
        if source not in persons:
            raise AdapterInputError(where + "/@from", "must name a Person")
        element = targets.get(target)
        if element is None or _ROLE_OF[element.tag] != role:
            raise AdapterInputError(
                where + "/@to", "HOLDER must name a Document, USER a CommunicationMeans"
            )
        if target in owner:
            raise AdapterInputError(where + "/@to", "is linked to a person already")
        owner[target] = source
    found: dict[str, list[etree._Element]] = {}
    for target, element in targets.items():
        if target not in owner:
            raise AdapterInputError(element_path(element), "is linked to no person")
        found.setdefault(owner[target], []).append(element)
    return found

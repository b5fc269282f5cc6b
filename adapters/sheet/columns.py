"""The sheet's columns: the stable English keys of row 1 and which record type uses which.

One table serves both XLSX and CSV. Every data row names its record type in the ``record``
column; a row may fill only the columns its record type uses (anything else is refused, so that
nothing a partner typed is silently dropped).
"""

from __future__ import annotations

from types import MappingProxyType

MESSAGE_KEYS = (
    "message_type",
    "enquiry_id",
    "response_id",
    "case_reference",
    "from_office",
    "to_offices",
    "officer_id",
    "officer_name",
    "officer_rank",
    "officer_phone",
    "officer_email",
    "enquiry_type",
    "legal_basis",
    "priority",
    "response_due",
    "status",
    "evaluation",
    "handling",
    "handling_conditions",
    "language",
    "summary",
    "question",
    "text",
    "refusal_reason",
)
PERSON_KEYS = (
    "role",
    "sex",
    "date_of_birth",
    "nationalities",
    "phone_numbers",
    "dna_reference",
    "description",
)
NAME_KEYS = (
    "name_script",
    "name_language",
    "name_order",
    "family_name",
    "second_family_name",
    "given_names",
    "full_name",
    "transliteration_of",
)
DOCUMENT_KEYS = ("document_type", "document_number", "document_country", "document_expiry")
ACCOUNT_KEYS = ("platform", "handle")
PLACE_KEYS = ("label", "country", "province", "district", "village", "address")
VEHICLE_KEYS = ("kind", "registration", "make_model", "colour")
ORGANISATION_KEYS = ("organisation_name",)

# Row 1 of every sheet Liaison writes, in this order. A partner's sheet may leave columns out
# and put them in any order; it may not add keys that are not here.
KEYS: tuple[str, ...] = (
    "record",
    "person",
    *MESSAGE_KEYS,
    *PERSON_KEYS,
    *NAME_KEYS,
    *DOCUMENT_KEYS,
    *ACCOUNT_KEYS,
    *PLACE_KEYS,
    *VEHICLE_KEYS,
    *ORGANISATION_KEYS,
)

MESSAGE = "MESSAGE"
PERSON = "PERSON"
NAME = "NAME"
ALIAS = "ALIAS"
DOCUMENT = "DOCUMENT"
ACCOUNT = "ACCOUNT"
PLACE = "PLACE"
VEHICLE = "VEHICLE"
ORGANISATION = "ORGANISATION"

# The columns each record type may fill (besides ``record``).
COLUMNS_OF: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        MESSAGE: frozenset(MESSAGE_KEYS),
        PERSON: frozenset(("person", *PERSON_KEYS)),
        NAME: frozenset(("person", *NAME_KEYS)),
        ALIAS: frozenset(("person", *NAME_KEYS)),
        DOCUMENT: frozenset(("person", *DOCUMENT_KEYS)),
        ACCOUNT: frozenset(("person", *ACCOUNT_KEYS)),
        PLACE: frozenset(PLACE_KEYS),
        VEHICLE: frozenset(("country", *VEHICLE_KEYS)),
        ORGANISATION: frozenset(("organisation_name", "kind", "country", "address")),
    }
)

# Columns holding E.164 numbers (a list, space-separated, in phone_numbers). They start with
# "+" by nature, so they are validated strictly instead of being prefixed with an apostrophe.
PHONE_KEYS = frozenset({"phone_numbers", "officer_phone"})

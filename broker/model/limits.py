"""Size limits of the case messages, checked when a value object is built.

Lengths count Unicode code points (``len(str)``), not bytes. They are generous for real cases and
exist so that a hostile or broken message cannot make us hold or display absurd amounts of text.
The envelope limits the size of a whole message separately (docs/envelope.md).
"""

from __future__ import annotations

# ---- text lengths (code points)
MAX_ID_CHARS = 64  # officer ids, document numbers, DNA references, agreement ids
MAX_REFERENCE_CHARS = 128  # a case file reference
MAX_NAME_CHARS = 200  # each part of a person's name, officer and organisation names
MAX_SHORT_TEXT_CHARS = 200  # labels, kinds, ranks, make and model, colour, province ... village
MAX_HANDLE_CHARS = 256  # a social or messaging account handle, an e-mail address
MAX_FILE_NAME_CHARS = 255  # an attachment's file name
MAX_ADDRESS_CHARS = 1_000  # a free-text address
MAX_CONDITIONS_CHARS = 1_000  # H3 handling conditions, a refusal reason
MAX_DESCRIPTION_CHARS = 2_000  # a person's physical description
MAX_FREE_TEXT_CHARS = 20_000  # an enquiry's summary and question, a response's text
MAX_LANGUAGE_TAG_CHARS = 35  # a BCP 47 language tag

# ---- counts
MAX_RECIPIENTS = 50  # recipient offices of one enquiry
MAX_PERSONS = 100  # persons in one message
MAX_PLACES = 100  # places in one message
MAX_VEHICLES = 50  # vehicles in one message
MAX_ORGANISATIONS = 50  # organisations in one message
MAX_NAMES = 20  # names of one person (and, separately, aliases)
MAX_NATIONALITIES = 5  # nationalities of one person
MAX_DOCUMENTS = 20  # identity documents of one person
MAX_PHONE_NUMBERS = 20  # phone numbers of one person
MAX_ACCOUNTS = 20  # accounts of one person

# ---- attachments
MAX_ATTACHMENTS = 16  # attachments in one message
MAX_ATTACHMENT_BYTES = 8 * 1024 * 1024  # one attachment's content
# All attachments of one message together: leaves room for the rest inside the default 16 MiB
# envelope limit, so a valid message can always be sealed.
MAX_ATTACHMENTS_TOTAL_BYTES = 12 * 1024 * 1024

"""Regenerate the partner-side answer files the demo drops into pickup folders.

Each is what a partner office's own system would produce, in its own format, answering the
demo's enquiries (docs/examples/missing-child-alert.json, identity-check.json):

* ``vn-answer.json``  Viet Nam's JSON system (adapter ``json``), answering the alert;
* ``la-answer.xlsx``  the Lao liaison office's bilingual sheet (``sheet``, Lao labels);
* ``es-answer.xml``   the Spanish unit's UMF-style XML (``umf``), answering the identity check.

Run from the repository root: ``.venv/bin/python broker/demo/samples/regenerate.py``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from adapters.base import load
from broker.model import CaseEnquiry, CaseResponse

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent


def _same(answered: str, asked: str) -> None:
    if answered != asked:
        raise SystemExit(f"the example answers enquiry {answered}, not {asked}")


def main() -> None:
    alert = CaseEnquiry.from_json((ROOT / "docs/examples/missing-child-alert.json").read_text())
    check = CaseEnquiry.from_json((ROOT / "docs/examples/identity-check.json").read_text())
    vn = CaseResponse.from_json((ROOT / "docs/examples/case-response.json").read_text())
    _same(vn.enquiry_id, alert.enquiry_id)
    (HERE / "vn-answer.json").write_bytes(load("json").encode(vn).data)
    la = CaseResponse.from_json((ROOT / "adapters/sheet/examples/lao-response.json").read_text())
    _same(la.enquiry_id, alert.enquiry_id)
    (HERE / "la-answer.xlsx").write_bytes(load("sheet").encode(la, variant="xlsx:lo").data)
    es = dataclasses.replace(
        vn,
        response_id="3c1d9a5e-6b7f-4c2d-8e9a-0f1b2c3d4e5f",
        enquiry_id=check.enquiry_id,
        responding_office="ES-PN-UCRIF",
        case_reference="UCRIF-2026-0457",
        language="en",
        text=(
            "The passport number given belongs to a person registered in Spain under the same "
            "name and date of birth. No criminal record. Last known address in Madrid (2025)."
        ),
        persons=check.persons[:1],
        places=(),
        vehicles=(),
        organisations=(),
        attachments=(),
    )
    (HERE / "es-answer.xml").write_bytes(load("umf").encode(es).data)


if __name__ == "__main__":
    main()

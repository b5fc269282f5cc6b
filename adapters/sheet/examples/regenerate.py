"""Rewrite the golden sheets in this folder from docs/examples and lao-response.json.

Run from the repository root: ``.venv/bin/python adapters/sheet/examples/regenerate.py``.
tests/unit/test_adapter_sheet.py checks that the committed files are what this writes.
"""

from __future__ import annotations

from pathlib import Path

from adapters.sheet import CODEC
from adapters.sheet.codec import sheet_rows
from adapters.sheet.to_rows import to_records
from adapters.sheet.xlsx import write_xlsx
from broker.model import CaseEnquiry, CaseResponse

HERE = Path(__file__).parent
ROOT = HERE.parents[2]


def filled_in_response() -> bytes:
    """The Lao office's answer as an officer fills it: Lao labels, only the columns used."""
    response = CaseResponse.from_json((HERE / "lao-response.json").read_text(encoding="utf-8"))
    rows = sheet_rows(to_records(response)[0], "lo")
    used = [i for i in range(len(rows[0])) if any(row[i] for row in rows[2:])]
    return write_xlsx([tuple(row[i] for i in used) for row in rows])


def golden_files() -> dict[str, bytes]:
    """Every golden file's name and bytes."""
    alert = CaseEnquiry.from_json(
        (ROOT / "docs/examples/missing-child-alert.json").read_text(encoding="utf-8")
    )
    return {
        "missing-child-alert.lo.xlsx": CODEC.encode(alert, variant="xlsx:lo").data,
        "missing-child-alert.vi.csv": CODEC.encode(alert, variant="csv:vi").data,
        "lao-response.lo.xlsx": filled_in_response(),
    }


if __name__ == "__main__":
    for name, data in golden_files().items():
        (HERE / name).write_bytes(data)

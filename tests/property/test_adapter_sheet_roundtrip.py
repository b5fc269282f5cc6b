"""Round trips through the sheet: canonical -> XLSX/CSV -> canonical is the same message, except
exactly what the loss report names (coordinates, attachments)."""

from __future__ import annotations

import contextlib
import dataclasses

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from adapters.base import AdapterInputError, Loss
from adapters.sheet import CODEC, LANGUAGES
from broker.model import CaseEnquiry, CaseResponse
from tests.property.test_model_roundtrip import enquiries, responses

SETTINGS = settings(max_examples=60, deadline=None)
variants = st.tuples(st.sampled_from(["xlsx", "csv"]), st.sampled_from(LANGUAGES)).map(":".join)


def apply_losses(
    message: CaseEnquiry | CaseResponse, losses: tuple[Loss, ...]
) -> CaseEnquiry | CaseResponse:
    """``message`` without the fields the loss report names, and nothing else."""
    fields = {loss.field for loss in losses}
    places = tuple(
        dataclasses.replace(place, coordinates=None)
        if f"places[{index}].coordinates" in fields
        else place
        for index, place in enumerate(message.places)
    )
    attachments = tuple(
        attachment
        for index, attachment in enumerate(message.attachments)
        if f"attachments[{index}]" not in fields
    )
    return dataclasses.replace(message, places=places, attachments=attachments)


@SETTINGS
@given(message=st.one_of(enquiries(), responses()), variant=variants)
def test_sheet_round_trip_loses_exactly_what_it_reports(
    message: CaseEnquiry | CaseResponse, variant: str
) -> None:
    encoded = CODEC.encode(message, variant=variant)
    decoded = CODEC.decode(encoded.data, suffix=encoded.suffix)
    # Random text can look like Zawgyi Burmese; the codec then converts it, on purpose.
    assume(not any("Zawgyi" in warning for warning in decoded.warnings))
    assert decoded.message == apply_losses(message, encoded.losses)
    assert decoded.warnings == ()
    lost_places = sum(place.coordinates is not None for place in message.places)
    assert len(encoded.losses) == lost_places + len(message.attachments)


@SETTINGS
@given(blob=st.binary(max_size=2048), suffix=st.sampled_from([".csv", ".xlsx", None]))
def test_random_bytes_only_ever_raise_adapter_input_error(blob: bytes, suffix: str | None) -> None:
    with contextlib.suppress(AdapterInputError):
        CODEC.decode(blob, suffix=suffix)


@SETTINGS
@given(message=enquiries(), cut=st.integers(min_value=0, max_value=10_000))
def test_truncated_sheets_only_ever_raise_adapter_input_error(
    message: CaseEnquiry, cut: int
) -> None:
    for form in ("xlsx", "csv"):
        data = CODEC.encode(message, variant=form).data
        with contextlib.suppress(AdapterInputError):
            CODEC.decode(data[: cut % max(len(data), 1)], suffix=f".{form}")

"""CaseResponse and Evaluation: the rules between status, refusal, evaluation and findings."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from broker.errors import InvalidMessage
from broker.model import (
    CaseResponse,
    Evaluation,
    InformationAccuracy,
    Organisation,
    ResponseStatus,
    SourceReliability,
    Vehicle,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def answer() -> CaseResponse:
    return CaseResponse.from_json((EXAMPLES / "case-response.json").read_text("utf-8"))


def rejects(path: str, build: Callable[[], object]) -> InvalidMessage:
    with pytest.raises(InvalidMessage) as info:
        build()
    assert info.value.field == path, info.value.diagnosis
    return info.value


def bare(status: ResponseStatus, **changes: object) -> CaseResponse:
    """The example answer stripped of findings and evaluation, with another status."""
    return dataclasses.replace(
        answer(),
        status=status,
        evaluation=None,
        persons=(),
        places=(),
        **changes,  # type: ignore[arg-type]
    )


def test_evaluation_code_reads_like_the_4x4_grid() -> None:
    assert answer().evaluation == Evaluation(
        source_reliability=SourceReliability.B, information_accuracy=InformationAccuracy.TWO
    )
    assert (
        Evaluation(
            source_reliability=SourceReliability.X, information_accuracy=InformationAccuracy.FOUR
        ).code
        == "X4"
    )
    rejects(
        "source_reliability",
        lambda: Evaluation(source_reliability="B", information_accuracy=InformationAccuracy.ONE),  # type: ignore[arg-type]
    )
    rejects(
        "information_accuracy",
        lambda: Evaluation(source_reliability=SourceReliability.A, information_accuracy=1),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("path", "changes"),
    [
        ("response_id", {"response_id": "C02-2025-0388"}),
        ("enquiry_id", {"enquiry_id": ""}),
        ("case_reference", {"case_reference": "C02\n2025"}),
        ("responding_office", {"responding_office": "Viet Nam C02"}),
        ("responding_officer", {"responding_officer": "Trần Văn Hùng"}),
        ("status", {"status": 2}),
        ("refusal_reason", {"refusal_reason": "outside the agreement"}),
        ("evaluation", {"evaluation": None}),
        ("handling", {"handling": None}),
        ("language", {"language": "vi_VN"}),
        ("text", {"text": ""}),
        ("persons[0]", {"persons": (None,)}),
    ],
)
def test_response_rules(path: str, changes: dict[str, object]) -> None:
    rejects(path, lambda: dataclasses.replace(answer(), **changes))  # type: ignore[arg-type]


def test_a_refusal_gives_a_reason_and_nothing_else() -> None:
    rejects("refusal_reason", lambda: bare(ResponseStatus.REFUSED))
    refused = bare(ResponseStatus.REFUSED, refusal_reason="Outside the scope of MEKONG-2014.")
    assert CaseResponse.from_bytes(refused.to_bytes()) == refused
    evaluation = answer().evaluation
    rejects(
        "evaluation",
        lambda: dataclasses.replace(refused, evaluation=evaluation),
    )
    rejects("persons", lambda: dataclasses.replace(refused, persons=answer().persons))


@pytest.mark.parametrize(
    "status",
    [ResponseStatus.NO_RECORD, ResponseStatus.NEEDS_CLARIFICATION],
)
def test_statuses_without_information_carry_no_findings_but_may_attach(
    status: ResponseStatus,
) -> None:
    value = bare(status)
    assert value.attachments == answer().attachments
    assert CaseResponse.from_json(value.to_json()) == value
    rejects("places", lambda: dataclasses.replace(value, places=answer().places))
    guesthouse = Organisation(name="Nhà nghỉ Hồng Hà", kind="guesthouse", country="VNM")
    rejects("organisations", lambda: dataclasses.replace(value, organisations=(guesthouse,)))
    rejects("vehicles", lambda: dataclasses.replace(value, vehicles=(Vehicle(kind="minivan"),)))


def test_decoding_locates_faults_in_the_evaluation_and_findings() -> None:
    msg = answer().to_proto()
    msg.evaluation.information_accuracy = 0  # type: ignore[assignment]
    rejects("evaluation.information_accuracy", lambda: CaseResponse.from_proto(msg))
    msg = answer().to_proto()
    msg.persons[1].names[2].full_name = "Tra\u0300n Tiểu Yến"
    rejects("persons[1].names[2].full_name", lambda: CaseResponse.from_proto(msg))
    msg = answer().to_proto()
    msg.ClearField("responding_officer")
    rejects("responding_officer", lambda: CaseResponse.from_proto(msg))


def test_repr_shows_no_case_content() -> None:
    shown = repr(answer())
    assert "PARTIALLY_ANSWERED" in shown
    for secret in ("Nguyễn", "Cốc Lếu", "Trần Văn Hùng", "guesthouse"):
        assert secret not in shown

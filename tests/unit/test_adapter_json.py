"""The json adapter: golden files, the committed schema, and errors that name the JSON path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.base import AdapterInputError, Codec
from adapters.json_format import CODEC, schema_problems
from adapters.json_format.schema_source import SCHEMA_FILE, schema_text
from broker.errors import InputError
from broker.messages import message_from_json

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "adapters" / "json_format"
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.json"))


def golden(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((PACKAGE / "examples" / name).read_bytes())
    return loaded


def decode_dict(document: dict[str, Any]) -> Any:
    return CODEC.decode(json.dumps(document, ensure_ascii=False).encode())


def test_codec_satisfies_the_protocol() -> None:
    assert isinstance(CODEC, Codec)
    assert CODEC.name == "json"
    assert CODEC.suffixes == (".json",)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_golden_files_are_what_the_encoder_writes(example: Path) -> None:
    message = message_from_json(example.read_text(encoding="utf-8"))
    encoded = CODEC.encode(message)
    assert encoded.data == (PACKAGE / "examples" / example.name).read_bytes()
    assert encoded.media_type == "application/json"
    assert encoded.losses == ()
    assert CODEC.decode(encoded.data).message == message


def test_committed_schema_is_the_generated_one() -> None:
    assert (PACKAGE / "schema" / SCHEMA_FILE).read_text(encoding="utf-8") == schema_text()


def test_partner_form_is_camel_case_with_short_enums_and_hex_digests() -> None:
    response = golden("case-response.json")
    assert response["type"] == "response"
    assert response["respondingOffice"] == "VN-BCA-C02"
    assert response["status"] == "PARTIALLY_ANSWERED"
    assert response["persons"][1]["role"] == "MISSING_CHILD"
    sha = response["attachments"][0]["sha256"]
    assert len(sha) == 64
    assert sha == sha.lower()
    assert "response_id" not in response


def test_unknown_field_is_refused_with_its_path() -> None:
    document = golden("identity-check.json")
    document["persons"][0]["names"][1]["nickname"] = "x"
    with pytest.raises(AdapterInputError) as caught:
        decode_dict(document)
    assert caught.value.where == "$.persons[0].names[1]"
    assert "nickname" in str(caught.value)


def test_every_schema_problem_is_reported_with_its_path() -> None:
    document = golden("identity-check.json")
    del document["summary"]
    document["priority"] = "SOON"
    document["persons"][0]["sex"] = 1
    problems = dict(schema_problems(document))
    assert problems["$"] == "lacks required field(s) summary"
    assert problems["$.priority"].startswith("must be one of URGENT")
    assert problems["$.persons[0].sex"].startswith("must be one of")
    with pytest.raises(AdapterInputError, match="3 problems") as caught:
        decode_dict(document)
    assert "$.priority" in str(caught.value)
    assert "SOON" not in str(caught.value)  # never quotes content


def test_wrong_discriminator_is_refused() -> None:
    document = golden("identity-check.json")
    document["type"] = "letter"
    with pytest.raises(AdapterInputError) as caught:
        decode_dict(document)
    assert caught.value.where == "$.type"


def test_model_fault_names_the_partner_path() -> None:
    document = golden("identity-check.json")
    document["persons"][0]["nationalities"] = ["vnm"]
    with pytest.raises(AdapterInputError) as caught:
        decode_dict(document)
    assert caught.value.where.startswith("$.persons[0].nationalities")


def test_attachment_sha256_is_checked() -> None:
    document = golden("case-response.json")
    document["attachments"][0]["sha256"] = "00" * 32
    with pytest.raises(AdapterInputError) as caught:
        decode_dict(document)
    assert caught.value.where == "$.attachments[0].sha256"


def test_bad_hex_and_base64_are_refused_with_paths() -> None:
    document = golden("case-response.json")
    document["attachments"][0]["sha256"] = "ZZ" * 32
    with pytest.raises(AdapterInputError) as caught:
        decode_dict(document)
    assert caught.value.where == "$.attachments[0].sha256"
    document = golden("case-response.json")
    document["attachments"][0]["content"] = "not base64!"
    with pytest.raises(AdapterInputError) as caught:
        decode_dict(document)
    assert caught.value.where == "$.attachments[0].content"


def test_decomposed_vietnamese_is_normalised_with_a_warning() -> None:
    document = golden("case-response.json")
    document["persons"][0]["names"][0]["familyName"] = "Nguye\u0302\u0303n"
    decoded = decode_dict(document)
    assert decoded.message.persons[0].names[0].family_name == "Nguyễn"
    assert decoded.warnings == ("$.persons[0].names[0].familyName: text normalised to Unicode NFC",)


def test_zawgyi_text_is_flagged_not_converted() -> None:
    document = golden("case-response.json")
    document["persons"][0]["description"] = "ေက်ာင္း"
    decoded = decode_dict(document)
    assert decoded.message.persons[0].description == "ေက်ာင္း"
    assert any("Zawgyi" in w and "$.persons[0].description" in w for w in decoded.warnings)


def test_unknown_variant_is_refused() -> None:
    message = message_from_json(EXAMPLES[0].read_text(encoding="utf-8"))
    with pytest.raises(InputError, match="variants"):
        CODEC.encode(message, variant="xml")

"""The browser's checkout refuses exactly what the API refuses: the verdicts its Vitest table
asserts for the client (frontend/src/api/customer-field-cases.json) hold for the API's model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from orders.schemas import CustomerIn

CASES = (
    Path(__file__).resolve().parents[1] / "frontend" / "src" / "api" / "customer-field-cases.json"
)
VALID = {"name": "Bob", "address": "Main st 1", "phone": "+39 123"}


def cases() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(CASES.read_text())["cases"]
    return loaded


@pytest.mark.parametrize("case", cases(), ids=lambda c: f"{c['field']}={c['value']!r}")
def test_the_api_gives_the_same_verdict_as_the_browser(case: dict[str, Any]) -> None:
    customer = {**VALID, case["field"]: case["value"]}
    try:
        CustomerIn.model_validate(customer)
        valid = True
    except ValidationError:
        valid = False
    assert valid == case["valid"]

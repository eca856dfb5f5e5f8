"""Requests that validation at the edge refuses, for tests: the characters PostgreSQL cannot
store, a raw JSON body, the operations of the OpenAPI document, and the fields a 422 names."""

import json
from collections.abc import Iterator
from typing import Any

NUL, SURROGATE = "\x00", "\ud800"


def detail_fields(error: dict[str, Any]) -> dict[str, str]:
    return {detail["field"]: detail["type"] for detail in error["details"]}


def json_body(payload: Any) -> dict[str, Any]:
    """A request body as raw JSON: `\\u0000` and `\\ud800` escapes go through as they are."""
    return {
        "content": json.dumps(payload).encode(),
        "headers": {"Content-Type": "application/json"},
    }


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation

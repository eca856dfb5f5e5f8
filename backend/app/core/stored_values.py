"""Values PostgreSQL cannot store, found wherever they sit in a decoded JSON value: text and
JSONB refuse NUL characters; a lone UTF-16 surrogate cannot be encoded as UTF-8; JSONB has no
NaN or Infinity. The API refuses them at the edge (app/api/validation.py), naming the field;
the data layer refuses a document holding a non-finite number (app/db/types.py)."""

import math
import re
from collections.abc import Iterator
from typing import Any

Location = tuple[str | int, ...]

_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")

PROBLEMS = {
    "nul_character": "must not contain NUL characters (\\u0000)",
    "lone_surrogate": "must not contain lone UTF-16 surrogates (\\ud800 to \\udfff)",
    "non_finite_number": "must be a finite number",
}


def text_problem(text: str) -> str | None:
    """The kind of unstorable character in `text`, or None when it can be stored."""
    found = _UNSTORABLE_CHARACTER.search(text)
    if found is None:
        return None
    return "nul_character" if found.group() == "\x00" else "lone_surrogate"


def value_problems(value: Any, location: Location) -> Iterator[tuple[Location, str]]:
    """Every (location, problem) inside a decoded JSON value: strings, object keys, numbers.

    Iterative, so that a deeply nested value cannot exhaust the stack. A bad object key is
    reported at its object: the key itself may not be printable in the answer.
    """
    pending: list[tuple[Location, Any]] = [(location, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                yield where, problem
        elif isinstance(item, float) and not math.isfinite(item):
            yield where, "non_finite_number"
        elif isinstance(item, dict):
            for key, child in item.items():
                problem = text_problem(key)
                if problem:
                    yield where, problem
                else:
                    pending.append(((*where, key), child))
        elif isinstance(item, list):
            pending.extend(((*where, index), child) for index, child in enumerate(item))

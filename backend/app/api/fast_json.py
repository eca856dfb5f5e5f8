"""JSON responses written straight from plain rows with orjson, for hot reads.

The route keeps its `response_model`, so the OpenAPI document is unchanged; returning a Response
skips FastAPI's validation and serialisation of the value, which cost more than the query on a
page of twenty. The output is what pydantic would write: UUIDs as strings, datetimes in RFC 3339
with `Z` for UTC, and a column labelled `NAME_json` (JSON text from the database) embedded as
`NAME` without being decoded and encoded again.
"""

from typing import Any

import orjson
from asyncpg.pgproto import pgproto
from fastapi import Response

from app.db.repositories.paging import PlainRow, RowPage

_JSON_SUFFIX = "_json"
_OPTIONS = orjson.OPT_UTC_Z


def _driver_value(value: object) -> str:
    # asyncpg's own UUID type, which plain rows carry (ORM objects get uuid.UUID).
    if isinstance(value, pgproto.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class OrjsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_driver_value, option=_OPTIONS)


def public_row(row: PlainRow) -> dict[str, Any]:
    """The row as the API shows it: `NAME_json` text becomes `NAME`, embedded as it is."""
    return {
        (key[: -len(_JSON_SUFFIX)] if key.endswith(_JSON_SUFFIX) else key): (
            orjson.Fragment(value) if key.endswith(_JSON_SUFFIX) else value
        )
        for key, value in row.items()
    }


def page_response(page: RowPage[PlainRow]) -> OrjsonResponse:
    """The `Page` shape: items, total, limit, offset."""
    items = [public_row(row) for row in page.rows]
    return OrjsonResponse(
        {"items": items, "total": page.total, "limit": page.limit, "offset": page.offset}
    )

"""Types and models shared by the request and response schemas."""

import unicodedata
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.db.repositories.paging import PageRequest, RowPage
from app.services.youtube.links import parse_video_id

ItemT = TypeVar("ItemT")

MAX_OFFSET = 1_000_000
MAX_JSON_DEPTH = 32

Limit = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]


def paging(default_limit: int) -> Callable[[int, int], PageRequest]:
    """A list's `limit` and `offset` query parameters, read as the page they ask for."""

    def page_asked(limit: Limit = default_limit, offset: Offset = 0) -> PageRequest:
        return PageRequest(limit, offset)

    return page_asked


# Lists of what a caller makes and comes back to often (transcripts, conversations, jobs…)
# show 20 a page unless asked; lists read through (a transcript's chunks, a conversation's
# messages, keys, templates, webhooks, changes), 50; every runtime setting fits in one page.
Paging = Annotated[PageRequest, Depends(paging(20))]
LongPaging = Annotated[PageRequest, Depends(paging(50))]
SettingsPaging = Annotated[PageRequest, Depends(paging(100))]


def json_depth(value: Any) -> int:
    """How many objects and arrays deep `value` goes (a scalar is 0, `{}` is 1). Iterative:
    the value may be nested deeper than Python's recursion limit allows walking."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return deepest


def within_json_depth(value: Any) -> Any:
    # Deeper values cannot be serialised back (pydantic stops at 255 levels) and serve no use.
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"must not be nested more than {MAX_JSON_DEPTH} levels deep")
    return value


_DEPTH_NOTE = f"Objects and arrays at most {MAX_JSON_DEPTH} levels deep, this one included."

JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(within_json_depth),
    Field(description=f"Any JSON object. {_DEPTH_NOTE}"),
]
JsonValue = Annotated[
    Any, AfterValidator(within_json_depth), Field(description=f"Any JSON value. {_DEPTH_NOTE}")
]


def shows_nothing(value: str) -> bool:
    """Only whitespace and format characters (zero-width spaces and joiners, direction
    marks): nothing anyone can read. Stops at the first visible character."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in value)


def not_blank(value: str) -> str:
    """The text in Unicode's composed form (as transcripts are stored: "e" + U+0301 is "é"),
    refused when it shows nothing."""
    if shows_nothing(value):
        raise ValueError("must not be only whitespace")
    return unicodedata.normalize("NFC", value)


NotBlank = AfterValidator(not_blank)
# Length limits go before the check inside Annotated: given after it (`NonBlankStr | None =
# Field(max_length=500)`), pydantic checks them as a generic length, "Value should have at most
# 500 items", type `too_long`, instead of `string_too_long` as every other text field says.
NonBlankStr = Annotated[str, Field(min_length=1), NotBlank]
ShortText = Annotated[str, Field(min_length=1, max_length=500), NotBlank]  # titles, topics
NameText = Annotated[str, Field(min_length=1, max_length=200), NotBlank]
KeyName = Annotated[str, Field(min_length=1, max_length=100), NotBlank]


# A video a request names, read as its id.
VideoIdOrUrl = Annotated[
    str,
    Field(
        max_length=2048,
        description="A YouTube video id or any YouTube URL (watch, youtu.be, shorts, embed, live).",
    ),
    AfterValidator(parse_video_id),
]


def distinct(ids: list[UUID]) -> list[UUID]:
    """The ids in the order sent, each once."""
    return list(dict.fromkeys(ids))


# A list of ids stored or used as a set: a repeat means nothing more, and is dropped.
DistinctIds = Annotated[list[UUID], AfterValidator(distinct)]


def example(**fields: Any) -> ConfigDict:
    """A model's example in the OpenAPI document (what /docs pre-fills and clients show)."""
    return ConfigDict(json_schema_extra={"examples": [fields]})


EXAMPLE_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
EXAMPLE_TIME = "2026-03-14T09:26:53Z"


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int
    limit: int
    offset: int


# What a response always carries is `required` in the OpenAPI document, defaults or not: a
# client generated from it then types such a field as present, not as optional.
ANSWERED_IN_FULL = ConfigDict(json_schema_serialization_defaults_required=True)


class RequestBody(BaseModel):
    """A JSON request body: a field it does not have is refused (422 `extra_forbidden` naming
    it), not ignored: `{"values": …}` sent for `variables` was answered "Missing variables"."""

    model_config = ConfigDict(extra="forbid")


class OrmModel(BaseModel):
    """A response read from a row."""

    model_config = ConfigDict(from_attributes=True, **ANSWERED_IN_FULL)


SchemaT = TypeVar("SchemaT", bound=BaseModel)


def from_row(schema: type[SchemaT], row: object, **computed: Any) -> SchemaT:
    """`schema` read from the row's attributes, with the fields the row lacks given."""
    read = {name: getattr(row, name) for name in schema.model_fields if name not in computed}
    return schema.model_validate({**read, **computed})


def page_of(schema: type[SchemaT], page: RowPage[Any]) -> Page[SchemaT]:
    """The repository's page as the API shows it, each row read as `schema` (an ORM object or
    a dataclass by its attributes, a plain row by its keys, or a `schema` item as it is)."""
    items = [schema.model_validate(row) for row in page.rows]
    return Page[schema](  # type: ignore[valid-type]
        items=items, total=page.total, limit=page.limit, offset=page.offset
    )

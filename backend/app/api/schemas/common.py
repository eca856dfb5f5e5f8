from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict

ItemT = TypeVar("ItemT")

Limit = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, description="Items to skip.")]


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int
    limit: int
    offset: int


class OrmModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


OrmT = TypeVar("OrmT", bound=OrmModel)


def page_of(
    schema: type[OrmT], rows: Sequence[object], total: int, limit: int, offset: int
) -> Page[OrmT]:
    """A page of `rows` (ORM objects) as `schema` items, with the paging it was asked for."""
    items = [schema.model_validate(row) for row in rows]
    return Page[schema](items=items, total=total, limit=limit, offset=offset)  # type: ignore[valid-type]

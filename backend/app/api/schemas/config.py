from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.api.schemas.common import JsonValue, OrmModel


class ConfigWrite(BaseModel):
    value: JsonValue
    description: str | None = Field(default=None, max_length=2000)


class ConfigEntry(OrmModel):
    key: str
    value: Any
    description: str | None
    updated_at: datetime

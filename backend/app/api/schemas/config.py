from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.api.schemas.common import JsonValue, OrmModel, example


class ConfigWrite(BaseModel):
    model_config = example(
        value={"max_videos_per_user": 200}, description="Limits for the beta programme."
    )

    value: JsonValue
    description: str | None = Field(default=None, max_length=2000)


class ConfigEntry(OrmModel):
    key: str
    value: Any
    description: str | None
    updated_at: datetime

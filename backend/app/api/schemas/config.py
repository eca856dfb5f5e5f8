from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from app.api.schemas.common import JsonValue, OrmModel, RequestBody, example


class ConfigWrite(RequestBody):
    model_config = example(value=8)

    value: JsonValue = Field(description="The new value, of the setting's type and bounds.")


class SettingPublic(OrmModel):
    key: str
    value: Any = Field(description="The value in effect.")
    source: Literal["default", "environment", "override", "ignored"] = Field(
        description="Where the value comes from; `ignored`: a stored key that is no setting."
    )
    default: Any = Field(description="The value without an override (environment or default).")
    override: Any = Field(
        description="The stored override, or null. With a source other than `override` it does "
        "not fit the setting and is ignored."
    )
    description: str
    value_schema: dict[str, Any] | None = Field(
        validation_alias="json_schema", description="The type and bounds, as JSON Schema."
    )
    updated_at: datetime | None = Field(description="When the override was last written.")


class ConfigChangePublic(OrmModel):
    id: UUID
    key: str
    old_value: Any = Field(description="The override before the change; null: none.")
    new_value: Any = Field(description="The override after the change; null: removed.")
    changed_by: UUID | None = Field(description="The administrator; null once deleted.")
    changed_at: datetime

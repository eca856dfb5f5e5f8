from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from app.api.schemas.common import OrmModel, example


class ApiKeyCreate(BaseModel):
    model_config = example(name="nightly export")

    name: str = Field(min_length=1, max_length=100, examples=["nightly export"])


class ApiKeyPublic(OrmModel):
    id: UUID
    name: str
    key_prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The secret key. Shown only in this response: store it now.")

from datetime import datetime
from uuid import UUID

from pydantic import Field, field_validator

from app.api.schemas.common import KeyName, OrmModel, RequestBody, example
from app.db.models import ApiKeyScope

MAX_KEY_DAYS = 3650


class ApiKeyCreate(RequestBody):
    model_config = example(name="nightly export", scopes=["read"], expires_in_days=90)

    name: KeyName = Field(examples=["nightly export"])
    scopes: list[ApiKeyScope] = Field(
        default_factory=lambda: [ApiKeyScope.READ, ApiKeyScope.WRITE],
        min_length=1,
        max_length=len(ApiKeyScope),
        description="`read`: read and search; `write`: ask, draft, add and delete; `admin`: "
        "manage API keys and webhooks, and the administrators' routes.",
    )
    expires_in_days: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_KEY_DAYS,
        description="The key stops working this many days from now; never, when left out.",
    )

    @field_validator("scopes")
    @classmethod
    def distinct(cls, scopes: list[ApiKeyScope]) -> list[ApiKeyScope]:
        return sorted(set(scopes), key=list(ApiKeyScope).index)


class ApiKeyPublic(OrmModel):
    id: UUID
    name: str
    key_prefix: str = Field(description="The key's first characters, to tell keys apart.")
    scopes: list[ApiKeyScope]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="When the key was last used, to the minute.")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The secret key. Shown only in this response: store it now.")

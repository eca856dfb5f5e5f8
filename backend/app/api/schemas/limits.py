from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas.common import OrmModel, example
from app.core.config import MAX_REQUESTS_LIMIT, MAX_TOKENS_LIMIT
from app.services.usage_limits import LimitValues

# Strict: `true` or "7" is not a limit (a JSON number is; lax validation took true for 1).
RequestsLimit = Annotated[int | None, Field(ge=0, le=MAX_REQUESTS_LIMIT, strict=True)]
TokensLimit = Annotated[int | None, Field(ge=0, le=MAX_TOKENS_LIMIT, strict=True)]


class LimitOverride(OrmModel):
    """One user's own limits. Each one null (or left out) keeps the server's default; 0 lifts
    it; any other number replaces it."""

    # Sent as well as answered: one schema for both (its fields may be left out when sent). As
    # every request body, it refuses a field it does not have: a misspelt limit was ignored,
    # and the override written without it.
    model_config = ConfigDict(
        extra="forbid", json_schema_serialization_defaults_required=False
    ) | example(asks_per_minute=60, ingests_per_hour=0)

    asks_per_minute: RequestsLimit = None
    drafts_per_minute: RequestsLimit = None
    ingests_per_hour: RequestsLimit = None
    tokens_per_day: TokensLimit = None
    searches_per_minute: RequestsLimit = None
    webhook_tests_per_hour: RequestsLimit = None
    stored_words: TokensLimit = None


class UserLimitsPublic(BaseModel):
    user_id: UUID
    override: LimitOverride | None = Field(description="null when the user has none.")
    override_updated_at: datetime | None
    # The limits as the service computes them: answered as they are, one definition for both.
    effective: LimitValues = Field(description="The defaults with the override applied.")

from datetime import UTC, datetime, timedelta
from uuid import UUID

from fastapi import Response, status

from app.api.deps import CurrentUser, SessionDep
from app.api.errors import error_responses, not_found
from app.api.routing import api_router
from app.api.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from app.api.schemas.common import Limit, Offset, Page, page_of
from app.core.security import api_key_prefix, new_api_key, token_digest
from app.db.repositories import ApiKeyRepository

router = api_router("/api-keys", "api keys")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_api_key(
    body: ApiKeyCreate, user: CurrentUser, session: SessionDep
) -> ApiKeyCreated:
    """A new key for scripts and agents, scoped to what it may do (`read` and `write` unless
    told), with an optional expiry. The secret is in this response only. An API key needs the
    `admin` scope to create keys."""
    secret = new_api_key()
    expires_at = None
    if body.expires_in_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=body.expires_in_days)
    key = await ApiKeyRepository(session).create(
        user_id=user.id,
        name=body.name,
        key_prefix=api_key_prefix(secret),
        key_hash=token_digest(secret),
        scopes=body.scopes,
        expires_at=expires_at,
    )
    return ApiKeyCreated(**ApiKeyPublic.model_validate(key).model_dump(), key=secret)


@router.get("", response_model=Page[ApiKeyPublic])
async def list_api_keys(
    user: CurrentUser, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> Page[ApiKeyPublic]:
    """The caller's keys, newest first, prefixes only."""
    page = await ApiKeyRepository(session).page_for_user(user.id, limit=limit, offset=offset)
    return page_of(ApiKeyPublic, page)


@router.delete(
    "/{key_id:uuid}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def revoke_api_key(key_id: UUID, user: CurrentUser, session: SessionDep) -> Response:
    """Revoke a key; it stops working at once. 404 for a key that is not the caller's."""
    if not await ApiKeyRepository(session).revoke(key_id, user.id):
        raise not_found("API key", key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

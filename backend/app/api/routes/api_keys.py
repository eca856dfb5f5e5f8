from datetime import UTC, datetime, timedelta
from uuid import UUID

from fastapi import Response

from app.api.deps import CurrentPrincipal, CurrentUser, SessionDep
from app.api.errors import ApiError, error_responses, not_found
from app.api.routing import api_router
from app.api.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from app.api.schemas.common import LongPaging, Page, page_of
from app.core.security import api_key_prefix, new_api_key, token_digest
from app.db.models import ApiKey, ApiKeyScope
from app.db.repositories import ApiKeyRepository

router = api_router("/api-keys", "api keys")


@router.post("", status_code=201, responses=error_responses(403))
async def create_api_key(
    body: ApiKeyCreate, principal: CurrentPrincipal, session: SessionDep
) -> ApiKeyCreated:
    """A new key for scripts and agents, scoped to what it may do (`read` and `write` unless
    told), with an optional expiry. The secret is in this response only. An API key needs the
    `admin` scope to create keys, and creates them within its own scopes (403 otherwise) and
    lifetime: such a key expires no later than the one that created it (`expires_at` says
    when), so a leaked key that expires cannot leave behind one that does not."""
    secret = new_api_key()
    expires_at = None
    if body.expires_in_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=body.expires_in_days)
    if principal.api_key_id is not None:
        calling = await ApiKeyRepository(session).get_existing(principal.api_key_id)
        expires_at = within_the_calling_key(calling, body.scopes, expires_at)
    key = await ApiKeyRepository(session).create(
        user_id=principal.user.id,
        name=body.name,
        key_prefix=api_key_prefix(secret),
        key_hash=token_digest(secret),
        scopes=body.scopes,
        expires_at=expires_at,
    )
    return ApiKeyCreated(**ApiKeyPublic.model_validate(key).model_dump(), key=secret)


def within_the_calling_key(
    calling: ApiKey, scopes: list[ApiKeyScope], expires_at: datetime | None
) -> datetime | None:
    """The new key's expiry, no later than the calling key's; 403 for a scope it lacks."""
    beyond = [scope.value for scope in scopes if scope not in calling.scopes]
    if beyond:
        raise ApiError(
            403,
            "forbidden",
            f"An API key can create keys only within its own scopes; this one lacks "
            f"{', '.join(beyond)}.",
        )
    if calling.expires_at is None:
        return expires_at
    return calling.expires_at if expires_at is None else min(expires_at, calling.expires_at)


@router.get("")
async def list_api_keys(
    user: CurrentUser, session: SessionDep, paging: LongPaging
) -> Page[ApiKeyPublic]:
    """The caller's keys, newest first, prefixes only."""
    page = await ApiKeyRepository(session).page_for_user(user.id, paging)
    return page_of(ApiKeyPublic, page)


@router.delete("/{key_id:uuid}", status_code=204, responses=error_responses(404))
async def revoke_api_key(key_id: UUID, user: CurrentUser, session: SessionDep) -> Response:
    """Revoke a key; it stops working at once. Revoking it again answers the same and keeps
    when it was revoked; 404 for a key that is not the caller's."""
    if not await ApiKeyRepository(session).revoke(key_id, user.id):
        raise not_found("API key", key_id)
    return Response(status_code=204)

"""The caller's own rows, named by a route's path, as `Annotated` dependencies.

A route that takes a conversation id receives an `OwnedConversation`: the row, looked up for the
user making the request. A missing id and another user's answer the same 404 (never 403: an id
must not tell whether it exists), before the route runs. Ids that arrive in a body are checked
with the `*_of` functions and `check_*_ids`, which answer alike.
"""

from collections.abc import Awaitable, Callable
from collections.abc import Collection as Ids
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Path, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import AdminUser, CurrentUser, ReadSessionDep, SessionDep
from app.api.errors import ApiError, not_found
from app.db.models import (
    Base,
    Collection,
    Conversation,
    Job,
    Template,
    Transcript,
    User,
    WebhookEndpoint,
)
from app.db.repositories import (
    CollectionRepository,
    ConversationRepository,
    JobRepository,
    TemplateRepository,
    TranscriptRepository,
    UserRepository,
    WebhookEndpointRepository,
)
from app.db.repositories.base import UserOwnedRepository

Row = TypeVar("Row")
OwnedRow = TypeVar("OwnedRow", bound=Base)


def found(row: Row | None, what: str, row_id: object) -> Row:
    """The row; 404 naming `what` when there is none (missing and someone else's alike)."""
    if row is None:
        raise not_found(what, row_id)
    return row


def deleted(done: bool, what: str, row_id: object) -> Response:
    """204 when the row was deleted here; 404 when another request deleted it first (two
    DELETEs at once answer as two in a row do)."""
    if not done:
        raise not_found(what, row_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def check_all_owned(asked: list[UUID], owned: Ids[UUID], what: str) -> None:
    """404 for the first asked id that is not among the owned ones."""
    for row_id in asked:
        if row_id not in owned:
            raise not_found(what, row_id)


async def conversation_of(session: AsyncSession, conversation_id: UUID, user: User) -> Conversation:
    """The user's conversation; 404 when it is missing or someone else's, alike."""
    conversation = await ConversationRepository(session).get_for_user(conversation_id, user.id)
    return found(conversation, "Conversation", conversation_id)


def owned_row(
    rows: type[UserOwnedRepository[OwnedRow]], what: str, path_id: str
) -> Callable[..., Awaitable[OwnedRow]]:
    """The dependency giving the caller's row whose id is the path parameter `path_id`; 404
    naming `what` when it is missing or someone else's."""

    async def owned(
        user: CurrentUser, session: SessionDep, row_id: Annotated[UUID, Path(alias=path_id)]
    ) -> OwnedRow:
        return found(await rows(session).get_for_user(row_id, user.id), what, row_id)

    return owned


def owned_row_id(
    rows: type[UserOwnedRepository[Any]], what: str, path_id: str
) -> Callable[..., Awaitable[UUID]]:
    """The dependency giving the path parameter `path_id` once checked to be the caller's row
    without loading it: for reads on the read-only session that need the id alone."""

    async def owned_id(
        user: CurrentUser, session: ReadSessionDep, row_id: Annotated[UUID, Path(alias=path_id)]
    ) -> UUID:
        if not await rows(session).is_owned_by(row_id, user.id):
            raise not_found(what, row_id)
        return row_id

    return owned_id


OwnedConversation = Annotated[
    Conversation, Depends(owned_row(ConversationRepository, "Conversation", "conversation_id"))
]
OwnedConversationId = Annotated[
    UUID, Depends(owned_row_id(ConversationRepository, "Conversation", "conversation_id"))
]
OwnedCollection = Annotated[
    Collection, Depends(owned_row(CollectionRepository, "Collection", "collection_id"))
]
OwnedCollectionId = Annotated[
    UUID, Depends(owned_row_id(CollectionRepository, "Collection", "collection_id"))
]
OwnedTranscript = Annotated[
    Transcript, Depends(owned_row(TranscriptRepository, "Transcript", "transcript_id"))
]
OwnedWebhook = Annotated[
    WebhookEndpoint,
    Depends(owned_row(WebhookEndpointRepository, "Webhook endpoint", "endpoint_id")),
]
OwnedJob = Annotated[Job, Depends(owned_row(JobRepository, "Job", "job_id"))]


async def enabled_webhook(endpoint: OwnedWebhook) -> WebhookEndpoint:
    """The caller's endpoint, when it is on: nothing is sent to a disabled one (409)."""
    if not endpoint.enabled:
        raise ApiError(409, "conflict", "the endpoint is disabled: turn it on (PATCH) first")
    return endpoint


EnabledWebhook = Annotated[WebhookEndpoint, Depends(enabled_webhook)]


async def template_of(session: AsyncSession, template_id: UUID, user: User) -> Template:
    """The user's own template or a built-in; 404 for a missing or someone else's."""
    template = await TemplateRepository(session).get_visible(template_id, user.id)
    return found(template, "Template", template_id)


async def default_template_of(session: AsyncSession, template_type: str, user: User) -> Template:
    """The user's default template of this type, else the built-in one; 404 when neither is."""
    template = await TemplateRepository(session).get_template(user.id, template_type)
    return found(template, "Default template of type", template_type)


async def visible_template(template_id: UUID, user: CurrentUser, session: SessionDep) -> Template:
    return await template_of(session, template_id, user)


VisibleTemplate = Annotated[Template, Depends(visible_template)]


async def owned_template(template: VisibleTemplate) -> Template:
    """The user's own template: a built-in one is read-only (403)."""
    if template.user_id is None:
        raise ApiError(403, "forbidden", "Built-in templates are read-only: create your own copy.")
    return template


OwnedTemplate = Annotated[Template, Depends(owned_template)]


async def readable_user_id(user_id: UUID, caller: CurrentUser, session: SessionDep) -> UUID:
    """A user whose own settings the caller may read: theirs, or anyone's for an administrator;
    another user's id answers 404 to anyone else, as a missing one does."""
    if not caller.is_admin and caller.id != user_id:
        raise not_found("User", user_id)
    return await existing_user_id(session, user_id)


ReadableUserId = Annotated[UUID, Depends(readable_user_id)]


async def administered_user_id(user_id: UUID, _: AdminUser, session: SessionDep) -> UUID:
    """A user an administrator acts on: 403 for a caller who is none, 404 for a missing id."""
    return await existing_user_id(session, user_id)


AdministeredUserId = Annotated[UUID, Depends(administered_user_id)]


async def existing_user_id(session: AsyncSession, user_id: UUID) -> UUID:
    found(await UserRepository(session).get_by_id(user_id), "User", user_id)
    return user_id


async def check_transcript_ids(
    session: AsyncSession, transcript_ids: list[UUID] | None, user: User
) -> list[UUID] | None:
    """The ids, checked to be the user's: a foreign or unknown one answers 404."""
    if transcript_ids is None:
        return None
    owned = await TranscriptRepository(session).owned_ids(user.id, transcript_ids)
    check_all_owned(transcript_ids, owned, "Transcript")
    return transcript_ids


async def check_collection_ids(
    session: AsyncSession, collection_ids: list[UUID] | None, user: User
) -> None:
    """Every id is the user's collection: a foreign or unknown one answers 404."""
    if not collection_ids:
        return
    owned = await CollectionRepository(session).owned_ids(user.id, collection_ids)
    check_all_owned(collection_ids, owned, "Collection")

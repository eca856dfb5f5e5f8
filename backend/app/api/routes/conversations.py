from uuid import UUID

from fastapi import APIRouter, Response, status

from app.api.deps import CurrentUser, SessionDep, SettingsDep
from app.api.errors import ApiError, ErrorDetail, error_responses, not_found
from app.api.schemas.common import Limit, Offset, Page
from app.api.schemas.conversations import (
    ConversationCreate,
    ConversationPublic,
    ConversationRename,
    MessageCreate,
    MessagePublic,
)
from app.db.models import Conversation, Message, User
from app.db.repositories import ConversationRepository, MessageRepository

router = APIRouter(
    prefix="/conversations", tags=["conversations"], responses=error_responses(401, 422)
)


async def owned_conversation(
    session: SessionDep, conversation_id: UUID, user: User
) -> Conversation:
    """The user's conversation; 404 when it is missing or someone else's, alike."""
    conversation = await ConversationRepository(session).get_for_user(conversation_id, user.id)
    if conversation is None:
        raise not_found("Conversation", conversation_id)
    return conversation


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConversationPublic)
async def create_conversation(
    body: ConversationCreate, user: CurrentUser, session: SessionDep
) -> Conversation:
    """Start a conversation, optionally titled."""
    return await ConversationRepository(session).create(user_id=user.id, title=body.title)


@router.get("", response_model=Page[ConversationPublic])
async def list_conversations(
    user: CurrentUser, session: SessionDep, limit: Limit = 20, offset: Offset = 0
) -> Page[ConversationPublic]:
    """The caller's conversations, most recently active first."""
    conversations = ConversationRepository(session)
    items = await conversations.list_by_user(user.id, limit, offset)
    return Page(
        items=[ConversationPublic.model_validate(c) for c in items],
        total=await conversations.count_by_user(user.id),
        limit=limit,
        offset=offset,
    )


@router.get("/{conversation_id}", response_model=ConversationPublic, responses=error_responses(404))
async def get_conversation(
    conversation_id: UUID, user: CurrentUser, session: SessionDep
) -> Conversation:
    return await owned_conversation(session, conversation_id, user)


@router.patch(
    "/{conversation_id}", response_model=ConversationPublic, responses=error_responses(404)
)
async def rename_conversation(
    conversation_id: UUID, body: ConversationRename, user: CurrentUser, session: SessionDep
) -> Conversation:
    conversation = await owned_conversation(session, conversation_id, user)
    return await ConversationRepository(session).update(conversation.id, title=body.title)


@router.delete(
    "/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def delete_conversation(
    conversation_id: UUID, user: CurrentUser, session: SessionDep
) -> Response:
    """Delete the conversation and its messages."""
    conversation = await owned_conversation(session, conversation_id, user)
    await ConversationRepository(session).delete(conversation.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{conversation_id}/messages",
    response_model=Page[MessagePublic],
    responses=error_responses(404),
)
async def list_messages(
    conversation_id: UUID,
    user: CurrentUser,
    session: SessionDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[MessagePublic]:
    """The conversation's messages, oldest first."""
    conversation = await owned_conversation(session, conversation_id, user)
    messages = MessageRepository(session)
    items = await messages.list_by_conversation(conversation.id, limit, offset)
    return Page(
        items=[MessagePublic.model_validate(m) for m in items],
        total=await messages.count_by_conversation(conversation.id),
        limit=limit,
        offset=offset,
    )


@router.post(
    "/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=MessagePublic,
    responses=error_responses(404),
)
async def add_message(
    conversation_id: UUID,
    body: MessageCreate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Message:
    """Add a user message; the conversation moves to the top of the list."""
    if len(body.content) > settings.message_max_chars:
        limit = settings.message_max_chars
        detail = ErrorDetail(
            field="body.content", message=f"at most {limit} characters", type="string_too_long"
        )
        raise ApiError(
            422,
            "validation_error",
            f"The message is longer than {limit} characters.",
            details=[detail],
        )
    conversation = await owned_conversation(session, conversation_id, user)
    return await MessageRepository(session).create(
        conversation_id=conversation.id, role="user", content=body.content
    )

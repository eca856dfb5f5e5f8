from uuid import UUID

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import CurrentUser, ModelWorkDep, ReadSessionDep, SessionDep
from app.api.errors import ApiError, ErrorDetail, error_responses, not_found
from app.api.fast_json import page_response
from app.api.owned import (
    OwnedConversation,
    OwnedConversationId,
    check_collection_ids,
    check_transcript_ids,
    deleted,
)
from app.api.routing import Locate, api_router
from app.api.schemas.common import LongPaging, Page, Paging
from app.api.schemas.conversations import (
    ChatExchange,
    ConversationCreate,
    ConversationPublic,
    ConversationUpdate,
    MessageCreate,
    MessagePublic,
)
from app.api.streaming import (
    STREAM_EVENT_SCHEMA,
    AnswerStream,
    accepts_event_stream,
    stream_answer,
)
from app.core.config import Settings
from app.db.models import Conversation, LimitedAction, User
from app.db.repositories import ConversationRepository, MessageRepository
from app.services import chat
from app.services.chat import start_turn
from app.services.scope import conversation_scope, narrowed

router = api_router("/conversations", "conversations")


async def check_scope(
    session: AsyncSession,
    user: User,
    transcript_ids: list[UUID] | None,
    collection_ids: list[UUID] | None,
) -> None:
    """Every id is the user's: a foreign or unknown one answers 404."""
    await check_transcript_ids(session, transcript_ids, user)
    await check_collection_ids(session, collection_ids, user)


@router.post("", status_code=201, response_model=ConversationPublic, responses=error_responses(404))
async def create_conversation(
    body: ConversationCreate, user: CurrentUser, session: SessionDep, locate: Locate
) -> Conversation:
    """Start a conversation, optionally titled, and optionally scoped: its questions are then
    answered from the chosen transcripts and collections only."""
    await check_scope(session, user, body.transcript_ids, body.collection_ids)
    conversation = await ConversationRepository(session).create(
        user_id=user.id,
        title=body.title,
        transcript_ids=body.transcript_ids,
        collection_ids=body.collection_ids,
    )
    locate("get_conversation", conversation_id=conversation.id)
    return conversation


@router.get("", response_model=Page[ConversationPublic])
async def list_conversations(
    user: CurrentUser, session: ReadSessionDep, paging: Paging
) -> Response:
    """The caller's conversations, most recently active first."""
    page = await ConversationRepository(session).page_for_user(user.id, paging)
    return page_response(page)


@router.get(
    "/{conversation_id:uuid}", response_model=ConversationPublic, responses=error_responses(404)
)
async def get_conversation(conversation: OwnedConversation) -> Conversation:
    return conversation


@router.patch(
    "/{conversation_id:uuid}", response_model=ConversationPublic, responses=error_responses(404)
)
async def update_conversation(
    conversation: OwnedConversation,
    body: ConversationUpdate,
    user: CurrentUser,
    session: SessionDep,
) -> Conversation:
    """Rename it, or change its scope: each field given is changed (`null` title: none;
    `null` ids: any video)."""
    given = body.model_fields_set
    await check_scope(session, user, body.transcript_ids, body.collection_ids)
    changes: dict[str, object] = {}
    if "title" in given:
        changes["title"] = body.title
    if "transcript_ids" in given:
        changes["scope_transcript_ids"] = body.transcript_ids
    if "collection_ids" in given:
        changes["scope_collection_ids"] = body.collection_ids
    if not changes:
        return conversation
    return await ConversationRepository(session).update(conversation.id, **changes)


@router.delete("/{conversation_id:uuid}", status_code=204, responses=error_responses(404))
async def delete_conversation(conversation: OwnedConversation, session: SessionDep) -> Response:
    """Delete the conversation and its messages."""
    done = await ConversationRepository(session).delete(conversation.id)
    return deleted(done, "Conversation", conversation.id)


@router.get(
    "/{conversation_id:uuid}/messages",
    response_model=Page[MessagePublic],
    responses=error_responses(404),
)
async def list_messages(
    conversation_id: OwnedConversationId,
    session: ReadSessionDep,
    paging: LongPaging,
) -> Response:
    """The conversation's messages, oldest first."""
    page = await MessageRepository(session).page_for_conversation(conversation_id, paging)
    return page_response(page)


def check_length(content: str, settings: Settings) -> None:
    limit = settings.message_max_chars
    if len(content) > limit:
        detail = ErrorDetail(
            field="body.content", message=f"at most {limit} characters", type="string_too_long"
        )
        raise ApiError(
            422,
            "validation_error",
            f"The message is longer than {limit} characters.",
            details=[detail],
        )


STREAM_DESCRIPTION = """With `Accept: text/event-stream` the answer streams as server-sent events,
each an `event: NAME` line and a `data: JSON` line (schema `AnswerStreamEvent`):
`user_message` (the stored question), `delta` (`{"text": ...}`, repeated), then `done` (the stored
answer) or `error` (the error shape). A client that disconnects leaves the partial answer stored,
marked `"partial": true` in its metadata."""

STREAM_EXAMPLE = """event: user_message
data: {"id": "…", "role": "user", "content": "How long do I proof the dough?", …}

event: delta
data: {"text": "Proof it overnight in the fridge [1]."}

event: done
data: {"id": "…", "role": "assistant", "content": "Proof it overnight in the fridge [1].", \
"metadata": {"grounded": true, "citations": [{"number": 1, …}], …}, …}

"""


@router.post(
    "/{conversation_id:uuid}/messages",
    status_code=201,
    response_model=ChatExchange,
    responses={
        **error_responses(404, 429, 502),
        201: {
            "description": "The question and its answer; or, streamed, the events of the answer.",
            "content": {
                "text/event-stream": {
                    "schema": {"$ref": f"#/components/schemas/{STREAM_EVENT_SCHEMA}"},
                    "example": STREAM_EXAMPLE,
                }
            },
        },
    },
    description=STREAM_DESCRIPTION,
)
async def ask(
    conversation: OwnedConversation,
    body: MessageCreate,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    work: ModelWorkDep,
) -> ChatExchange | StreamingResponse:
    """Ask about your videos: the question is stored, answered from the most relevant passages
    with [n] citations linking to the moment in the video, and the answer is stored with its
    citations and token usage. The first question titles an untitled conversation.

    422 when the question's own `transcript_ids` reach outside the conversation's scope; 429
    `rate_limited` past the caller's asks per minute or tokens per day (`GET /usage`)."""
    settings, model = work.settings, work.model
    check_length(body.content, settings)
    asked = await check_transcript_ids(session, body.transcript_ids, user)
    scope = await conversation_scope(session, conversation)
    if scope is not None and asked and not set(asked) <= set(scope):
        # Narrowed to nothing, the question would be declined as if the videos were silent.
        message = "A transcript asked about is outside this conversation's scope."
        detail = ErrorDetail(field="body.transcript_ids", message="outside the scope", type="scope")
        raise ApiError(422, "validation_error", message, details=[detail])
    transcript_ids = narrowed(scope, asked)
    async with work.admitted(session, user.id, LimitedAction.ASK) as reservation:
        turn = await start_turn(
            session,
            conversation,
            body.content,
            transcript_ids,
            settings,
            work.embeddings,
            quote=model.extractive,
            reservation=reservation,
        )
        await session.commit()  # the question is kept whatever happens to the answer
        if accepts_event_stream(request.headers.get("accept", "")):
            # 201 as documented: the question is stored, and the answer will be (whatever
            # becomes of the stream, its reservation is released when the answer is stored).
            stream = stream_answer(turn, model, work.unit_of_work, settings.tokenizer_encoding)
            return await AnswerStream.started(stream, 201)
        reply = await chat.answer(session, turn, model)  # a failed model: 502 (error_handlers)
    if reply is None:  # the conversation was deleted meanwhile
        await session.commit()  # the tokens the answer spent count all the same
        raise not_found("Conversation", conversation.id)
    return ChatExchange(
        user_message=MessagePublic.model_validate(turn.user_message),
        assistant_message=MessagePublic.model_validate(reply),
    )

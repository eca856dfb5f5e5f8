from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import CurrentUser, ModelWorkDep, SessionDep
from app.api.errors import not_found
from app.api.owned import (
    check_transcript_ids,
    conversation_of,
    default_template_of,
    template_of,
)
from app.api.routing import api_router
from app.api.schemas.conversations import Citation, TokenUsage
from app.api.schemas.drafts import DraftRequest, DraftResult
from app.db.models import LimitedAction, Template, User
from app.services.drafts import write_draft
from app.services.scope import conversation_scope, narrowed

router = api_router("/drafts", "drafts", 404, 429, 502)


async def chosen_template(session: AsyncSession, body: DraftRequest, user: User) -> Template:
    if body.template_id is not None:
        return await template_of(session, body.template_id, user)
    assert body.template_type is not None
    return await default_template_of(session, body.template_type, user)


@router.post("")
async def create_draft(
    body: DraftRequest, user: CurrentUser, session: SessionDep, work: ModelWorkDep
) -> DraftResult:
    """A LinkedIn / Twitter / blog / email draft on `topic`, from what your videos say about it.

    The template's `{topic}`, `{tone}`, `{key_points}` and `{sources}` are filled from the
    retrieved passages; other placeholders come from `variables`.

    429 `rate_limited` past the caller's drafts per minute or tokens per day (`GET /usage`).
    """
    model = work.model
    template = await chosen_template(session, body, user)
    transcript_ids = await check_transcript_ids(session, body.transcript_ids, user)
    if body.conversation_id is not None:
        # Saved into a scoped conversation, the draft cites only what its answers may.
        conversation = await conversation_of(session, body.conversation_id, user)
        scope = await conversation_scope(session, conversation)
        transcript_ids = narrowed(scope, transcript_ids)
    async with work.admitted(session, user.id, LimitedAction.DRAFT) as reservation:
        draft = await write_draft(
            session,
            user.id,
            template,
            topic=body.topic,
            tone=body.tone,
            transcript_ids=transcript_ids,
            variables=body.variables,
            conversation_id=body.conversation_id,
            model=model,
            settings=work.settings,
            embeddings=work.embeddings,
            reservation=reservation,
        )
    if body.conversation_id is not None and draft.message is None:  # deleted meanwhile
        await session.commit()  # the tokens the draft spent count all the same
        raise not_found("Conversation", body.conversation_id)
    usage = draft.completion.usage
    return DraftResult(
        text=draft.text,
        template_id=template.id,
        template_type=template.template_type,
        prompt=draft.prompt,
        sources=[Citation.model_validate(c.as_dict()) for c in draft.citations],
        provider=model.provider,
        model=model.model,
        usage=TokenUsage(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.prompt_tokens + usage.completion_tokens,
        ),
        message_id=draft.message.id if draft.message else None,
    )

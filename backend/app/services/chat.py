"""Grounded chat: store the question, retrieve, build the prompt, store the answer.

The model only sees numbered excerpts of the user's own videos and is told to cite them as [n];
the stored answer keeps those citations (with deep links), the provider and the token usage in
its metadata. A question nothing in the videos covers gets an honest answer, not an invention.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.db.models import Conversation, Message
from app.db.repositories import (
    ConversationRepository,
    JobRepository,
    MessageRepository,
    MessageRow,
    TranscriptRepository,
)
from app.services.answers import choose_quotes, cite_each_quote
from app.services.embeddings.base import EmbeddingProvider
from app.services.extract import Passage
from app.services.language import question_language
from app.services.llm import ChatMessage, LanguageModel, Usage, storable
from app.services.retrieval import (
    Citation,
    QueryVector,
    Ranking,
    Retrieval,
    embed_question,
    retrieve,
    timestamp_label,
    without_invented_citations,
)
from app.services.usage_limits import record_usage, release_tokens
from app.services.wording import Words, words_in

TITLE_LENGTH = 60
Unanswered = Literal["not_covered", "preparing", "no_videos"]

SYSTEM_PROMPT = """You answer questions about the user's YouTube videos.
Use only the numbered excerpts below. Cite every statement with the excerpt number, like [2].
If the excerpts do not answer the question, say plainly that the videos do not cover it, and
cite nothing: never answer from your own knowledge. Answer in the language of the question.

Excerpts:
{excerpts}"""


@dataclass
class ChatTurn:
    """Everything needed to produce and store one answer."""

    conversation: Conversation
    user_message: Message
    prompt: list[ChatMessage]
    citations: list[Citation]
    passages: list[Passage] = field(default_factory=list)
    # The tokens set aside for the answer (usage_limits.admit), released when it is stored.
    reservation: UUID | None = None
    # What was searched, when the question was read as a follow-up of the one before.
    asked: str | None = None
    # The words of an answer the videos do not give, in the language the question was asked in.
    words: Words = field(default_factory=lambda: words_in(None))
    # Why the videos did not answer, when they did not (_unanswered).
    unanswered: Unanswered = "not_covered"

    @property
    def grounded(self) -> bool:
        return bool(self.citations)

    @property
    def not_answered(self) -> str:
        """The whole answer when the videos do not answer the question: asking again may
        find one when some of them were still being prepared."""
        if self.unanswered == "preparing":
            return self.words.preparing
        if self.unanswered == "no_videos":
            return self.words.no_videos
        return self.words.not_in_videos


def title_from(content: str) -> str:
    """A conversation title from its first question: its first words, cut at a word."""
    words = " ".join(content.split())
    if len(words) <= TITLE_LENGTH:
        return words
    return words[:TITLE_LENGTH].rsplit(" ", 1)[0] + "…"


def excerpt_heading(citation: Citation) -> str:
    hit = citation.hit
    when = timestamp_label(citation.moment)
    title = hit.title or hit.youtube_video_id
    return f"[{citation.number}] {title}" + (f" at {when}" if when else "")


def build_prompt(
    history: Sequence[MessageRow], question: str, citations: Sequence[Citation]
) -> list[ChatMessage]:
    excerpts = "\n\n".join(f"{excerpt_heading(c)}\n{c.hit.chunk_text}" for c in citations)
    messages = [ChatMessage("system", SYSTEM_PROMPT.format(excerpts=excerpts))]
    messages += [ChatMessage(m.role, m.content) for m in exchanges(history)]  # type: ignore[arg-type]
    messages.append(ChatMessage("user", question))
    return messages


def exchanges(history: Sequence[MessageRow]) -> list[MessageRow]:
    """The history as each question followed by its answer, oldest first. Questions asked at
    once are stored before their answers (Q, Q, A, A), and a question whose answer failed has
    none: as stored, the roles would not take turns, which many chat templates refuse, and
    answers would follow the wrong questions. An answer names its question (`reply_to`); an
    older one without the name answers the question just before it; a draft saved into the
    conversation follows the request that made it, said as a question ("shorten the draft
    above" has the draft to shorten). Unanswered questions are left out."""
    replies = {str(m.meta.get("reply_to")): m for m in history if m.meta.get("reply_to")}
    paired: list[MessageRow] = []
    waiting: MessageRow | None = None
    for message in history:
        if message.role == "user":
            reply = replies.get(str(message.id))
            if reply is not None:
                paired += [message, reply]
            waiting = None if reply else message
        elif message.role == "assistant" and message.meta.get("kind") == "draft":
            paired += [_draft_request(message), message]
        elif waiting is not None and message.role == "assistant" and "reply_to" not in message.meta:
            paired += [waiting, message]  # stored before answers named their question
            waiting = None
    return paired


def _draft_request(draft: MessageRow) -> MessageRow:
    """What a saved draft was asked for, as the question it answers."""
    kind, topic = draft.meta.get("template_type"), draft.meta.get("topic")
    request = f"Write a {kind} draft" if kind else "Write a draft"
    request += f" about: {topic}" if topic else ""
    return replace(draft, role="user", content=request, meta={})


async def start_turn(
    session: AsyncSession,
    conversation: Conversation,
    content: str,
    transcript_ids: Sequence[UUID] | None,
    settings: Settings,
    embeddings: EmbeddingProvider | None = None,
    *,
    quote: bool = False,
    reservation: UUID | None = None,
) -> ChatTurn:
    """Store the user's message (titling an untitled conversation) and gather the context.
    With `quote` (an extractive model), the sentences to quote are chosen here, by meaning and
    words, and each quoted sentence is cited on its own, linking to the second it is said."""
    messages = MessageRepository(session)
    history = (
        await messages.get_last_n(conversation.id, settings.chat_history_messages)
        if settings.chat_history_messages
        else []
    )
    user_message = await messages.create(
        conversation_id=conversation.id, role="user", content=content
    )
    if conversation.title is None:
        await ConversationRepository(session).title_if_untitled(
            conversation.id, title_from(content)
        )
    found = await _found(session, conversation, content, transcript_ids, settings, embeddings)
    asked, said_before = content, ""
    if not found.retrieval.answerable and _may_follow_up(found.retrieval):
        earlier = answered_before(history)
        if earlier is not None:
            follow_up = read_with(earlier.question, content)
            again = await _found(
                session, conversation, follow_up, transcript_ids, settings, embeddings
            )
            if again.retrieval.answerable:
                found, asked, said_before = again, follow_up, earlier.answer
    retrieval, question_vector = found.retrieval, found.question_vector
    unanswered: Unanswered = "not_covered"
    words = words_in(None)
    if not retrieval.answerable:  # worded here; an answer is worded by its model
        unanswered = await _unanswered(session, conversation.user_id, transcript_ids)
        words = words_in(await asyncio.to_thread(question_language, content))
    # A question the videos do not answer gets no citations: the answer says so plainly.
    citations = Citation.numbered(retrieval.supporting(), asked)
    quotes = (
        await choose_quotes(
            asked,
            citations,
            embeddings,
            retrieval.passages,
            question_vector=question_vector.vector if question_vector else None,
            said_before=said_before,
        )
        if quote and citations
        else []
    )
    # The prompt shows each excerpt once; the links are one per quoted moment.
    prompt = build_prompt(history, content, citations)
    citations, quotes = cite_each_quote(citations, quotes)
    return ChatTurn(
        conversation=conversation,
        user_message=user_message,
        prompt=prompt,
        citations=citations,
        passages=[
            Passage(c.number, c.hit.chunk_text, tuple(q for q in quotes if q.number == c.number))
            for c in citations
        ],
        reservation=reservation,
        asked=asked if asked != content else None,
        words=words,
        unanswered=unanswered,
    )


@dataclass(frozen=True, slots=True)
class _Found:
    retrieval: Retrieval
    question_vector: QueryVector | None


async def _unanswered(
    session: AsyncSession, user_id: UUID, transcript_ids: Sequence[UUID] | None
) -> Unanswered:
    """Why the videos asked of did not answer: some of them are still being fetched or
    embedded (asking again may find an answer), the library holds no video yet, or they do
    not cover it."""
    if await JobRepository(session).preparing(user_id, transcript_ids):
        return "preparing"
    if transcript_ids is None and not await TranscriptRepository(session).has_any(user_id):
        return "no_videos"
    return "not_covered"


async def _found(
    session: AsyncSession,
    conversation: Conversation,
    question: str,
    transcript_ids: Sequence[UUID] | None,
    settings: Settings,
    embeddings: EmbeddingProvider | None,
) -> _Found:
    question_vector = await embed_question(embeddings, question)
    retrieval = await retrieve(
        session,
        conversation.user_id,
        question,
        query_vector=question_vector,
        transcript_ids=transcript_ids,
        limit=settings.chat_context_chunks,
        ranking=Ranking.of(settings),
    )
    return _Found(retrieval, question_vector)


def _may_follow_up(retrieval: Retrieval) -> bool:
    """Whether a question the videos do not answer alone may be read with the one before it:
    when every word it has that full-text search keeps is in the user's videos. "And why was
    that?" keeps none; "what do they treat them with?" keeps "treat", which the talk says; "what
    is the capital of Australia?" names what no video says, and is a new question."""
    words = retrieval.words
    return words is None or all(count > 0 for count in words.counts)


# How much of the question a follow-up is read with: its beginning, where a chain of
# follow-ups keeps the question that started it. Without a bound each follow-up carried every
# one before it, and each answer searched (and embedded) a longer text than the last.
FOLLOW_UP_CONTEXT_CHARS = 500


def read_with(earlier: str, follow_up: str) -> str:
    """The follow-up as it is searched: after the beginning of the question it follows."""
    if len(earlier) > FOLLOW_UP_CONTEXT_CHARS:
        earlier = earlier[: FOLLOW_UP_CONTEXT_CHARS + 1].rsplit(maxsplit=1)[0]
    return f"{earlier} {follow_up}"


@dataclass(frozen=True, slots=True)
class Answered:
    question: str  # as it was searched
    answer: str


def answered_before(history: Sequence[MessageRow]) -> Answered | None:
    """The last question of the conversation its videos answered, with its answer: what a
    follow-up such as "and why was that?" is about, and what it need not be told again."""
    questions = {str(m.id): m.content for m in history if m.role == "user"}
    for message in reversed(history):
        if message.role == "assistant" and message.meta.get("grounded"):
            searched = message.meta.get("asked") or questions.get(str(message.meta.get("reply_to")))
            if isinstance(searched, str):
                return Answered(searched, message.content)
    return None


def cited(turn: ChatTurn, text: str, *, partial: bool = False) -> list[Citation]:
    """The citations the answer refers to as [n]. A complete answer that refers to none is not
    grounded: the model said the excerpts do not answer. A partial one keeps them all, unless
    it stopped before its first word."""
    if partial:
        return turn.citations if text.strip() else []
    return [citation for citation in turn.citations if f"[{citation.number}]" in text]


def answer_metadata(
    turn: ChatTurn,
    model: LanguageModel,
    usage: Usage | None,
    text: str,
    *,
    partial: bool = False,
) -> dict[str, Any]:
    citations = cited(turn, text, partial=partial)
    metadata: dict[str, Any] = {
        "reply_to": str(turn.user_message.id),  # answers to questions asked at once may cross
        "grounded": bool(citations),
        "citations": [c.as_dict() for c in citations],
        "provider": model.provider if turn.grounded else None,
        "model": model.model if turn.grounded else None,
        "offline": model.provider.startswith("offline") if turn.grounded else None,
        "partial": partial,
    }
    if turn.asked is not None:
        metadata["asked"] = turn.asked
    if turn.unanswered == "preparing":
        metadata["preparing"] = True
    if usage is not None:
        metadata["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        }
    return metadata


async def store_answer(
    session: AsyncSession,
    turn: ChatTurn,
    model: LanguageModel,
    text: str,
    usage: Usage | None,
    *,
    partial: bool = False,
    kind: str = "chat",
) -> Message | None:
    """Store the assistant's message and, when a model ran, its line in the usage ledger; the
    tokens the question reserved are taken back. None when the conversation was deleted while
    the answer was being written: the usage stands all the same, or deleting a conversation
    before its answer ends would make a model's tokens free of the daily limit."""
    user_id = turn.conversation.user_id
    text = storable(text)
    if usage is not None:
        await record_usage(session, user_id, kind, model, usage)
    await release_tokens(session, user_id, turn.reservation)
    return await MessageRepository(session).create_unless_gone(
        conversation_id=turn.conversation.id,
        content=text,
        metadata=answer_metadata(turn, model, usage, text, partial=partial),
    )


async def answer(session: AsyncSession, turn: ChatTurn, model: LanguageModel) -> Message | None:
    """The whole answer at once (no streaming); None when the conversation went meanwhile."""
    if not turn.grounded:
        return await store_answer(session, turn, model, turn.not_answered, None)
    completion = await model.complete(turn.prompt, turn.passages)
    text = without_invented_citations(turn.citations, completion.text)
    return await store_answer(session, turn, model, text, completion.usage)

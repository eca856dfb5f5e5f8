"""Drafts from templates: retrieve on the topic, fill the template, ask the model."""

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.db.models import Message, Template
from app.db.repositories import JobRepository, MessageRepository
from app.services.answers import choose_quotes, cite_each_quote
from app.services.embeddings.base import EmbeddingProvider
from app.services.extract import Passage, Quote, best_sentences
from app.services.llm import ChatMessage, Completion, LanguageModel, estimate_usage, storable
from app.services.offline_drafts import offline_draft
from app.services.rendering import render
from app.services.retrieval import (
    Citation,
    Ranking,
    embed_question,
    retrieve,
    source_line,
    without_invented_citations,
)
from app.services.usage_limits import record_usage, release_tokens

KEY_POINTS = 5
SYSTEM_PROMPT = (
    "You write drafts from notes taken from the user's own YouTube videos. Follow the "
    "instructions, use only the key points and sources given, and cite sources as [n]. "
    "Write in the language the topic is written in."
)


class NoSourcesError(Exception):
    """None of the user's videos covers the topic (of those chosen, when `scoped`)."""

    def __init__(self, topic: str, *, scoped: bool = False, preparing: bool = False) -> None:
        super().__init__(f"no video covers {topic!r}")
        self.topic = topic
        self.scoped = scoped
        self.preparing = preparing  # some of the videos are still being fetched or embedded


@dataclass(frozen=True, slots=True)
class Draft:
    text: str
    prompt: str
    citations: list[Citation]
    completion: Completion
    message: Message | None


def template_variables(
    topic: str,
    tone: str,
    citations: Sequence[Citation],
    extra: Mapping[str, str],
    quotes: Sequence[Quote] = (),
) -> dict[str, str]:
    """The template's values. The key points are the sentences chosen for the topic by meaning
    (`quotes`), or without them the sentences sharing most of its words."""
    passages = [Passage(c.number, c.hit.chunk_text) for c in citations]
    points = [(q.number, q.text) for q in quotes] or best_sentences(topic, passages, KEY_POINTS)
    return {
        **extra,
        "topic": topic,
        "tone": tone,
        "key_points": "\n".join(f"- {sentence} [{number}]" for number, sentence in points),
        "sources": "\n".join(source_line(c) for c in citations),
    }


async def write_draft(
    session: AsyncSession,
    user_id: UUID,
    template: Template,
    *,
    topic: str,
    tone: str,
    transcript_ids: Sequence[UUID] | None,
    variables: Mapping[str, str],
    conversation_id: UUID | None,
    model: LanguageModel,
    settings: Settings,
    embeddings: EmbeddingProvider | None = None,
    reservation: UUID | None = None,
) -> Draft:
    """The draft, its sources and usage; saved into the conversation when one is given.
    NoSourcesError when no video covers the topic; MissingVariablesError from the template."""
    question_vector = await embed_question(embeddings, topic)
    retrieval = await retrieve(
        session,
        user_id,
        topic,
        query_vector=question_vector,
        transcript_ids=transcript_ids,
        limit=settings.chat_context_chunks,
        ranking=Ranking.of(settings),
    )
    # A topic is seldom a question: "bees" stands out from nothing in a talk about bees, but
    # the passages holding its words are about it.
    sources = retrieval.supporting() if retrieval.answerable else retrieval.listed()
    if not sources:
        preparing = await JobRepository(session).preparing(user_id, transcript_ids)
        raise NoSourcesError(topic, scoped=transcript_ids is not None, preparing=preparing)
    citations = Citation.numbered(sources, topic)
    quotes = await choose_quotes(
        topic,
        citations,
        embeddings,
        retrieval.passages,
        KEY_POINTS,
        question_vector.vector if question_vector else None,
    )
    citations, quotes = cite_each_quote(citations, quotes)
    # Off the event loop: a render is bounded (rendering.MAX_RENDERED_CHARACTERS), not free.
    prompt = await asyncio.to_thread(
        render,
        template.template_content,
        template_variables(topic, tone, citations, variables, quotes),
    )
    messages = [ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", prompt)]
    passages = [
        Passage(c.number, c.hit.chunk_text, tuple(q for q in quotes if q.number == c.number))
        for c in citations
    ]
    if model.extractive and quotes:  # no model to follow the template: shaped here
        shaped = offline_draft(template.template_type, topic, quotes, citations)
        usage = await asyncio.to_thread(
            estimate_usage, messages, shaped, settings.tokenizer_encoding
        )
        completion = Completion(shaped, usage)
    else:
        completion = await model.complete(messages, passages)
    text = without_invented_citations(citations, completion.text)
    # Its sources are what it cites, as an answer's are; all of them if it cites none.
    citations = [c for c in citations if f"[{c.number}]" in text] or citations
    await record_usage(session, user_id, "draft", model, completion.usage)
    await release_tokens(session, user_id, reservation)
    message = None
    if conversation_id is not None:
        message = await MessageRepository(session).create_unless_gone(
            conversation_id=conversation_id,
            content=storable(text),
            metadata={
                "kind": "draft",
                "template_id": str(template.id),
                "template_type": template.template_type,
                "topic": topic,
                "citations": [c.as_dict() for c in citations],
                "provider": model.provider,
                "model": model.model,
            },
        )
    return Draft(text, prompt, citations, completion, message)

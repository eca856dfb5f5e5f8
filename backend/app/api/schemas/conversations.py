"""Conversations and their messages, with the metadata an answer carries: the passages it
cites, the model that wrote it and the tokens it used."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import MISSING, AliasChoices, BaseModel, ConfigDict, Field

from app.api.schemas.common import (
    EXAMPLE_ID,
    EXAMPLE_TIME,
    DistinctIds,
    NonBlankStr,
    OrmModel,
    RequestBody,
    ShortText,
    example,
)
from app.api.schemas.templates import TemplateType

# An empty list would scope a conversation to nothing, where every question is declined: the
# whole library is `null`, so `[]` is refused rather than taken as either.
ScopeTranscripts = Field(
    default=None,
    min_length=1,
    max_length=200,
    description="Answer from these transcripts only (with `collection_ids`: from either); "
    "null for the whole library.",
)
ScopeCollections = Field(
    default=None,
    min_length=1,
    max_length=50,
    description="Answer from the videos of these collections only (as they hold them when "
    "each question is asked).",
)


class ConversationCreate(RequestBody):
    model_config = example(title="Sourdough questions", collection_ids=[EXAMPLE_ID])

    title: ShortText | None = None
    transcript_ids: DistinctIds | None = ScopeTranscripts
    collection_ids: DistinctIds | None = ScopeCollections


class ConversationUpdate(RequestBody):
    """Each field given is changed, a field left out is not: `null` removes the title, and
    `null` for both ids lifts the scope (the whole library)."""

    model_config = example(title="Bread, mostly", transcript_ids=[EXAMPLE_ID])

    title: ShortText | None = None
    transcript_ids: DistinctIds | None = ScopeTranscripts
    collection_ids: DistinctIds | None = ScopeCollections


class ConversationPublic(OrmModel):
    model_config = example(
        id=EXAMPLE_ID,
        title="Sourdough questions",
        transcript_ids=None,
        collection_ids=[EXAMPLE_ID],
        created_at=EXAMPLE_TIME,
        updated_at=EXAMPLE_TIME,
    )

    id: UUID
    title: str | None
    transcript_ids: list[UUID] | None = Field(
        default=None,
        validation_alias=AliasChoices("transcript_ids", "scope_transcript_ids"),
        description="The scope: its questions cite these transcripts only (null: any).",
    )
    collection_ids: list[UUID] | None = Field(
        default=None,
        validation_alias=AliasChoices("collection_ids", "scope_collection_ids"),
        description="The scope: and the videos of these collections (null: any).",
    )
    created_at: datetime
    updated_at: datetime


class MessageCreate(RequestBody):
    model_config = example(content="How often should I feed my starter?")

    # The length limit comes from settings (MESSAGE_MAX_CHARS) and is checked in the route.
    content: NonBlankStr
    transcript_ids: DistinctIds | None = Field(
        default=None, max_length=50, description="Answer from these transcripts only."
    )


EXAMPLE_CITATION = {
    "number": 1,
    "transcript_id": EXAMPLE_ID,
    "chunk_id": "9b2e4c1a-7d3f-4e8b-a6c5-0f1d2e3a4b5c",
    "chunk_index": 3,
    "youtube_video_id": "dQw4w9WgXcQ",
    "title": "Sourdough for beginners",
    "start_seconds": 182.0,
    "end_seconds": 241.5,
    "moment_seconds": 196.0,
    "url": "https://youtu.be/dQw4w9WgXcQ?t=196",
}


class Citation(BaseModel):
    """A passage an answer or draft cites as [number], and the moment it is said."""

    model_config = example(**EXAMPLE_CITATION)

    number: int = Field(description="The n of [n] in the text.")
    transcript_id: UUID
    chunk_id: UUID
    chunk_index: int
    youtube_video_id: str
    title: str | None
    start_seconds: float | None = Field(description="Where the passage starts in the video.")
    end_seconds: float | None
    moment_seconds: float | None = Field(description="When the cited words are said.")
    url: str = Field(description="The video at that moment: `https://youtu.be/{id}?t={s}`.")


class TokenUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class MessageMetadata(BaseModel):
    """What the service stored with a message: nothing for a question; for an answer its
    citations, the model and its token usage; for a saved draft its template and topic. A key
    is present only when it was stored (a missing `usage`: no model ran)."""

    model_config = ConfigDict(extra="allow")

    reply_to: UUID | MISSING = Field(
        default=MISSING,
        description="The question an answer answers: questions asked at once may be stored "
        "before their answers.",
    )
    grounded: bool | MISSING = Field(
        default=MISSING, description="Whether the answer rests on passages of your videos."
    )
    asked: str | MISSING = Field(
        default=MISSING,
        description="What was searched, when a follow-up the videos do not answer alone "
        '("and why was that?") was read with the question answered before it.',
    )
    preparing: bool | MISSING = Field(
        default=MISSING,
        description="Not answered while some of the videos asked of were still being fetched "
        "or made searchable by meaning: asking again once their jobs are done may find an "
        "answer (present, and true, only then).",
    )
    citations: list[Citation] | MISSING = MISSING
    provider: str | MISSING | None = Field(
        default=MISSING, description="The language model's provider; null when none ran."
    )
    model: str | MISSING | None = MISSING
    offline: bool | MISSING | None = Field(
        default=MISSING, description="Whether the offline extractive answerer wrote it."
    )
    partial: bool | MISSING = Field(
        default=MISSING, description="The answer was cut short (client gone, model failed)."
    )
    usage: TokenUsage | MISSING = MISSING
    kind: Literal["draft"] | MISSING = MISSING
    template_id: UUID | MISSING = MISSING
    template_type: TemplateType | MISSING = MISSING
    topic: str | MISSING = MISSING


class MessagePublic(OrmModel):
    model_config = example(
        id="c0ffee00-1234-4abc-8def-0123456789ab",
        conversation_id=EXAMPLE_ID,
        role="assistant",
        content="Twice a day while it is young, then once a day [1].",
        metadata={
            "grounded": True,
            "citations": [EXAMPLE_CITATION],
            "provider": "openai",
            "model": "gpt-4o-mini",
            "offline": False,
            "partial": False,
            "usage": {"prompt_tokens": 812, "completion_tokens": 24, "total_tokens": 836},
        },
        created_at=EXAMPLE_TIME,
    )

    id: UUID
    conversation_id: UUID
    role: Literal["user", "assistant", "system"]
    content: str
    metadata: MessageMetadata = Field(validation_alias=AliasChoices("meta", "metadata"))
    created_at: datetime


class ChatExchange(BaseModel):
    user_message: MessagePublic
    assistant_message: MessagePublic

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.api.schemas.common import ANSWERED_IN_FULL
from app.services.retrieval import SearchMode


class SearchHit(BaseModel):
    model_config = ANSWERED_IN_FULL

    transcript_id: UUID
    youtube_video_id: str
    title: str | None
    language: str | None = Field(
        default=None,
        description="The language the video is spoken in (ISO 639-1); null when unknown.",
    )
    chunk_id: UUID
    chunk_index: int
    start_seconds: float | None
    end_seconds: float | None
    moment_seconds: float | None = Field(
        description="When the passage is said: the caption where the question's words are, "
        "else the chunk's start."
    )
    url: str = Field(description="The video at that moment.")
    snippet: str = Field(description="The matching passage, matched words between `**`.")
    rank: float = Field(description="Full-text rank of the question's words in the passage.")
    similarity: float | None = Field(
        description="Cosine similarity of the passage to the question's meaning; null when the "
        "passage has no vector yet or the search is lexical."
    )
    score: float = Field(description="The combined score the hits are ordered by.")
    signals: list[Literal["lexical", "semantic"]] = Field(
        description="What matched: the question's words (`lexical`), its meaning (`semantic`)."
    )


class SearchResults(BaseModel):
    model_config = ANSWERED_IN_FULL

    query: str
    mode: SearchMode = Field(
        description="The mode used: `hybrid` is answered lexically until the videos' vectors exist."
    )
    answerable: bool = Field(
        description="Whether any passage answers the question. When false, the hits are only "
        "passages holding (nearly) every word of it (a search for words), often none."
    )
    preparing: bool = Field(
        description="Whether nothing answered while some of the videos searched were still being "
        "fetched or made searchable by meaning (their jobs queued or running): searching again "
        "once they are ready may find more."
    )
    hits: list[SearchHit]

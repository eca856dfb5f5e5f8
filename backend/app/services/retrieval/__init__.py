"""Finding the passages of a user's videos that answer a question (`ranking`, over the
candidates of `signals`), when each is said (`moments`), and the numbered citations an answer
links to (`citations`). Every name is importable from here."""

from app.services.retrieval.citations import (
    Citation,
    deep_link,
    placed,
    source_line,
    timestamp_label,
    without_invented_citations,
)
from app.services.retrieval.moments import (
    caption_second,
    end_seconds,
    moment_seconds,
    start_seconds,
)
from app.services.retrieval.ranking import (
    WEBSEARCH_SYNTAX,
    RankedHit,
    Ranking,
    Retrieval,
    retrieve,
)
from app.services.retrieval.signals import (
    CANDIDATES_PER_SIGNAL,
    QueryVector,
    SearchMode,
    embed_question,
    passage_id,
)

__all__ = [
    "CANDIDATES_PER_SIGNAL",
    "WEBSEARCH_SYNTAX",
    "Citation",
    "QueryVector",
    "RankedHit",
    "Ranking",
    "Retrieval",
    "SearchMode",
    "caption_second",
    "deep_link",
    "embed_question",
    "end_seconds",
    "moment_seconds",
    "passage_id",
    "placed",
    "retrieve",
    "source_line",
    "start_seconds",
    "timestamp_label",
    "without_invented_citations",
]

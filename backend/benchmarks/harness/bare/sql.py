"""The bare server's SQL: its own statements, and the repositories' own statements compiled for
asyncpg (`$n` parameters), so that both servers run the same SQL."""

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects import postgresql

from app.db.repositories import conversation as conversation_repository
from app.db.repositories import message as message_repository
from app.db.repositories import passage as passage_repository

# Authentication in one query, as UserRepository.get_by_session_token makes it.
SELECT_SESSION_USER = (
    "SELECT users.* FROM users JOIN sessions ON sessions.user_id = users.id "
    "WHERE sessions.token_hash = $1 AND sessions.expires_at > statement_timestamp()"
)
SELECT_OWNED_CONVERSATION = "SELECT * FROM conversations WHERE id = $1 AND user_id = $2"
INSERT_CONVERSATION = (
    "INSERT INTO conversations (user_id, title) VALUES ($1, $2) "
    "RETURNING id, title, scope_transcript_ids AS transcript_ids, "
    "scope_collection_ids AS collection_ids, created_at, updated_at"
)
SET_TITLE = "UPDATE conversations SET title = $2 WHERE id = $1"
INSERT_MESSAGE = (
    "INSERT INTO messages (conversation_id, role, content, metadata) VALUES ($1, $2, $3, $4) "
    "RETURNING id, created_at"
)
INSERT_USAGE = (
    "INSERT INTO usage_events (user_id, kind, provider, model, prompt_tokens, completion_tokens) "
    "VALUES ($1, 'chat', $2, $3, $4, $5)"
)
INSERT_TRANSCRIPT = (
    "INSERT INTO transcripts (user_id, youtube_video_id, transcript_text, title, channel_name, "
    "duration, metadata, word_count, language) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "RETURNING id, youtube_video_id, title, channel_name, duration, language, metadata, "
    "created_at"
)
_NAMED_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")  # `:name`, not the `::type` of a cast


@dataclass(frozen=True)
class Statement:
    """A repository's SQL for asyncpg: `$n` parameters, and their names in `$n` order."""

    sql: str
    names: tuple[str, ...]

    def arguments(self, **values: Any) -> list[Any]:
        return [values[name] for name in self.names]


def positional(sql: str) -> Statement:
    """SQLAlchemy's `:name` parameters as asyncpg's `$n`."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return Statement(_NAMED_PARAMETER.sub(number, sql), tuple(names))


def repository_sql(statement: Any) -> Statement:
    """A repository's prepared statement as asyncpg SQL."""
    return positional(str(statement.compile(dialect=postgresql.dialect(paramstyle="named"))))  # type: ignore[no-untyped-call]


# The hot reads' own statements (ConversationRepository, MessageRepository).
IS_OWNED = repository_sql(conversation_repository.ConversationRepository.owned_statement())
CONVERSATION_PAGE = repository_sql(conversation_repository._PAGE_FOR_USER)
MESSAGE_PAGE = repository_sql(message_repository._PAGE_FOR_CONVERSATION)

# PassageRepository.query_words's and .search's own SQL text.
LEXEMES = positional(passage_repository._LEXEMES.text)
SEARCH = positional(passage_repository.search_sql(passage_repository._MATCHING_PASSAGES))

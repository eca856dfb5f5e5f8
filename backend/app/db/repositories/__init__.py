"""One repository per model; each takes the unit of work's AsyncSession."""

from app.db.repositories.api_key import ApiKeyRepository
from app.db.repositories.chunk import ChunkRepository, NewChunk
from app.db.repositories.config import ConfigRepository
from app.db.repositories.conversation import ConversationRepository
from app.db.repositories.message import MessageRepository
from app.db.repositories.session import SessionRepository
from app.db.repositories.template import TemplateRepository
from app.db.repositories.transcript import TranscriptRepository
from app.db.repositories.user import UserRepository

__all__ = [
    "ApiKeyRepository",
    "ChunkRepository",
    "ConfigRepository",
    "ConversationRepository",
    "MessageRepository",
    "NewChunk",
    "SessionRepository",
    "TemplateRepository",
    "TranscriptRepository",
    "UserRepository",
]

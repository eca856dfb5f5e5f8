"""Who may come in, and how: users, their login sessions and API keys, the invitations to sign
up, and the counters that throttle failed logins."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, String, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.models.base import (
    Base,
    _quoted_list,
    children,
    created_at,
    one_of,
    owner_fk,
    updated_at,
    uuid_pk,
)

# For the type checker only: these modules import this one; SQLAlchemy resolves the names.
if TYPE_CHECKING:
    from app.db.models.conversations import Conversation, Template
    from app.db.models.library import Transcript


EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"email ~* '{EMAIL_PATTERN}'", name="email_format"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Granted only from the command line (`python -m app.cli grant-admin EMAIL`), never by the API.
    is_admin: Mapped[bool] = mapped_column(server_default=text("false"), default=False)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    sessions: Mapped[list["Session"]] = children("user")
    conversations: Mapped[list["Conversation"]] = children("user")
    transcripts: Mapped[list["Transcript"]] = children("user")
    templates: Mapped[list["Template"]] = children("user")
    api_keys: Mapped[list["ApiKey"]] = children("user")


class Session(Base):
    """A login session. Only the SHA-256 hash of its bearer token is stored."""

    __tablename__ = "sessions"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users")
    token_hash: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = created_at()

    user: Mapped[User] = relationship(lazy="raise", back_populates="sessions")


class ApiKeyScope(StrEnum):
    """What an API key may do. A session token may do all of it."""

    READ = "read"  # read anything the user owns, and search it
    WRITE = "write"  # ask, draft, add and delete videos, conversations and templates
    ADMIN = "admin"  # manage API keys and webhooks, and the administrators' routes


class ApiKey(Base):
    """A long-lived credential for scripts and agents. Only its SHA-256 hash is stored; the
    prefix is kept in clear so that an owner can tell keys apart."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(
            f"cardinality(scopes) > 0 AND scopes <@ ARRAY[{_quoted_list(tuple(ApiKeyScope))}]"
            "::varchar[]",
            name="scopes_allowed",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_fk("users")
    name: Mapped[str] = mapped_column(String(100))
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    scopes: Mapped[list[str]] = mapped_column(
        ARRAY(String(10)),
        server_default=text("'{read,write}'"),
        default=lambda: [ApiKeyScope.READ.value, ApiKeyScope.WRITE.value],
    )
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="raise", back_populates="api_keys")


class Invitation(Base):
    """An administrator's invitation to sign up while open sign-up is off. Only the SHA-256 of
    its token is stored; an email, when given, is the only one it admits."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = uuid_pk()
    created_by: Mapped[uuid.UUID] = owner_fk("users")
    email: Mapped[str | None] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()


class LoginFailureScope(StrEnum):
    """What a login_failures counter counts attempts of."""

    EMAIL_CLIENT = "email_client"  # one email from one client address
    CLIENT = "client"  # one client address, whatever the email
    EMAIL = "email"  # one email, from every address
    SIGNUP_CLIENT = "signup_client"  # sign-ups from one client address


class LoginFailure(Base):
    """A counter of login attempts for one key, shared by every process; the policy that reads it
    is app/services/login_throttle.py.

    Keys are SHA-256 digests, never the email or the address itself. A counter whose `expires_at`
    has passed counts as zero: the next attempt starts a new window at 1, and the purge deletes it.
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        one_of("scope", LoginFailureScope),
        CheckConstraint("failures >= 0", name="failures_not_negative"),
    )

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int]
    last_failure_at: Mapped[datetime]
    # The attempt counted before the last one, in the same window: how soon the last came after it.
    previous_failure_at: Mapped[datetime | None]
    expires_at: Mapped[datetime] = mapped_column(index=True)

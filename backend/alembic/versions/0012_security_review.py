"""What the security review asked of the schema: sign-up counted per address and invitations,
API keys with scopes and an expiry, limits on searches, webhook tests and stored words, token
reservations against the daily limit, and webhook secrets encrypted with room for a rotation.

Existing API keys keep reading and writing but lose what only `admin` allows (keys, webhooks,
the administrators' routes): a leaked key can no longer mint others. Existing webhook secrets
stay readable as they are until `python -m app.cli encrypt-webhook-secrets` encrypts them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SCOPES = "scope IN ('email_client', 'client', 'email')"
NEW_SCOPES = "scope IN ('email_client', 'client', 'email', 'signup_client')"
OLD_ACTIONS = "action IN ('ask', 'draft', 'ingest')"
NEW_ACTIONS = "action IN ('ask', 'draft', 'ingest', 'search', 'webhook_test')"
OLD_LIMITS = (
    "asks_per_minute >= 0 AND drafts_per_minute >= 0 AND ingests_per_hour >= 0 "
    "AND tokens_per_day >= 0"
)
NEW_LIMITS = (
    OLD_LIMITS + " AND searches_per_minute >= 0 "
    "AND webhook_tests_per_hour >= 0 AND stored_words >= 0"
)
# Words as the app counts them (str.split): runs of anything but white space.
WORD_COUNT = (
    "coalesce(array_length(regexp_split_to_array(btrim(transcript_text), '\\s+'), 1), 0)"
    " * (btrim(transcript_text) <> '')::int"
)


def replace_check(table: str, name: str, condition: str) -> None:
    op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
    op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, condition)


def timestamp(name: str, *, nullable: bool) -> sa.Column[object]:
    server_default = None if nullable else sa.text("now()")
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=server_default, nullable=nullable
    )


def owner(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    replace_check("login_failures", "scope_allowed", NEW_SCOPES)
    replace_check("usage_counters", "action_allowed", NEW_ACTIONS)

    op.add_column(
        "api_keys",
        sa.Column(
            "scopes",
            postgresql.ARRAY(sa.String(length=10)),
            server_default=sa.text("'{read,write}'"),
            nullable=False,
        ),
    )
    op.add_column("api_keys", timestamp("expires_at", nullable=True))
    op.create_check_constraint(
        op.f("ck_api_keys_scopes_allowed"),
        "api_keys",
        "cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']::varchar[]",
    )

    for column, kind in (
        ("searches_per_minute", sa.Integer()),
        ("webhook_tests_per_hour", sa.Integer()),
        ("stored_words", sa.BigInteger()),
    ):
        op.add_column("user_limits", sa.Column(column, kind, nullable=True))
    replace_check("user_limits", "limits_not_negative", NEW_LIMITS)

    op.add_column(
        "transcripts",
        sa.Column("word_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.execute(f"UPDATE transcripts SET word_count = {WORD_COUNT}")  # noqa: S608 (a constant)

    op.create_table(
        "token_reservations",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        timestamp("expires_at", nullable=False),
        timestamp("created_at", nullable=False),
        owner("token_reservations", "user_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_reservations")),
    )
    op.alter_column("token_reservations", "expires_at", server_default=None)
    op.create_index(
        op.f("ix_token_reservations_user_id"), "token_reservations", ["user_id"], unique=False
    )

    op.create_table(
        "invitations",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        timestamp("expires_at", nullable=False),
        timestamp("accepted_at", nullable=True),
        timestamp("created_at", nullable=False),
        owner("invitations", "created_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.alter_column("invitations", "expires_at", server_default=None)
    op.create_index(op.f("ix_invitations_created_by"), "invitations", ["created_by"], unique=False)

    op.alter_column(
        "webhook_endpoints",
        "secret",
        type_=sa.Text(),
        existing_type=sa.String(length=100),
        existing_nullable=False,
    )
    op.add_column("webhook_endpoints", sa.Column("previous_secret", sa.Text(), nullable=True))
    op.add_column("webhook_endpoints", timestamp("previous_secret_expires_at", nullable=True))


def downgrade() -> None:
    op.drop_column("webhook_endpoints", "previous_secret_expires_at")
    op.drop_column("webhook_endpoints", "previous_secret")
    # Secrets encrypted since do not fit the old column: the downgrade keeps the type wide.
    op.drop_table("invitations")
    op.drop_table("token_reservations")
    op.drop_column("transcripts", "word_count")
    replace_check("user_limits", "limits_not_negative", OLD_LIMITS)
    for column in ("stored_words", "webhook_tests_per_hour", "searches_per_minute"):
        op.drop_column("user_limits", column)
    op.drop_constraint(op.f("ck_api_keys_scopes_allowed"), "api_keys", type_="check")
    op.drop_column("api_keys", "expires_at")
    op.drop_column("api_keys", "scopes")
    op.execute("DELETE FROM usage_counters WHERE action IN ('search', 'webhook_test')")
    replace_check("usage_counters", "action_allowed", OLD_ACTIONS)
    op.execute("DELETE FROM login_failures WHERE scope = 'signup_client'")
    replace_check("login_failures", "scope_allowed", OLD_SCOPES)

"""Limits on costly work: counters per user and action, and administrators' overrides.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_counters",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "action IN ('ask', 'draft', 'ingest')", name=op.f("ck_usage_counters_action_allowed")
        ),
        sa.CheckConstraint("used >= 0", name=op.f("ck_usage_counters_used_not_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_usage_counters_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "action", name=op.f("pk_usage_counters")),
    )
    op.create_table(
        "user_limits",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("asks_per_minute", sa.Integer(), nullable=True),
        sa.Column("drafts_per_minute", sa.Integer(), nullable=True),
        sa.Column("ingests_per_hour", sa.Integer(), nullable=True),
        sa.Column("tokens_per_day", sa.BigInteger(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "asks_per_minute >= 0 AND drafts_per_minute >= 0 AND ingests_per_hour >= 0 "
            "AND tokens_per_day >= 0",
            name=op.f("ck_user_limits_limits_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_limits_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_limits")),
    )
    # set_updated_at() is migration 0001's.
    op.execute(
        "CREATE TRIGGER trg_user_limits_set_updated_at BEFORE UPDATE ON user_limits "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER trg_user_limits_set_updated_at ON user_limits")
    op.drop_table("user_limits")
    op.drop_table("usage_counters")

"""The history of runtime settings: one row per change of an override.

Rows already in `config` are left as they are: keys that name no runtime setting are listed by
`GET /api/v1/config` as ignored (nothing reads them) until an administrator deletes them.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "config_changes",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("old_value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new_value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("changed_by", sa.UUID(), nullable=True),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["changed_by"],
            ["users.id"],
            name=op.f("fk_config_changes_changed_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_changes")),
    )
    op.create_index(
        op.f("ix_config_changes_changed_by"), "config_changes", ["changed_by"], unique=False
    )
    op.create_index(
        "ix_config_changes_key_changed_at",
        "config_changes",
        ["key", sa.literal_column("changed_at DESC")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_config_changes_key_changed_at", table_name="config_changes")
    op.drop_index(op.f("ix_config_changes_changed_by"), table_name="config_changes")
    op.drop_table("config_changes")

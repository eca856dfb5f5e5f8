"""Jobs say why they failed in a code programs can act on (`error_code`), beside `error`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, and jobs failed before it keep no code.
    op.add_column("jobs", sa.Column("error_code", sa.String(length=50), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "error_code")

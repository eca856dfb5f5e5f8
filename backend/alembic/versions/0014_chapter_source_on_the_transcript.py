"""A transcript's chapters say their source once, on the transcript: `chapters.source` repeated
`transcripts.chapters_source` on every chapter and nothing read it. The allowed values move
with it, as a check on `transcripts.chapters_source`.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = "'description', 'computed', 'model'"


def upgrade() -> None:
    op.create_check_constraint(
        op.f("ck_transcripts_chapters_source_allowed"),
        "transcripts",
        f"chapters_source IN ({SOURCES})",
    )
    op.drop_constraint(op.f("ck_chapters_source_allowed"), "chapters", type_="check")
    op.drop_column("chapters", "source")


def downgrade() -> None:
    op.add_column("chapters", sa.Column("source", sa.String(length=20), nullable=True))
    op.execute(
        "UPDATE chapters SET source = COALESCE(transcript.chapters_source, 'computed')"
        " FROM transcripts AS transcript WHERE transcript.id = chapters.transcript_id"
    )
    op.alter_column("chapters", "source", nullable=False)
    op.create_check_constraint(
        op.f("ck_chapters_source_allowed"), "chapters", f"source IN ({SOURCES})"
    )
    op.drop_constraint(op.f("ck_transcripts_chapters_source_allowed"), "transcripts", type_="check")

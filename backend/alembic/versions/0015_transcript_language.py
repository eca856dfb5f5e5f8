"""Each transcript records the language it is spoken in, read from its text: retrieval compares
a question with passages of each language against that language's own yardstick. Transcripts
stored before are read here, in batches.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.services.language import SAMPLE_CHARACTERS, spoken_language

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500

_NEXT_BATCH = sa.text(
    "SELECT id, left(transcript_text, :characters) AS sample FROM transcripts"
    " WHERE CAST(:after AS uuid) IS NULL OR id > CAST(:after AS uuid) ORDER BY id LIMIT :batch"
)
_SET_LANGUAGE = sa.text("UPDATE transcripts SET language = :language WHERE id = :id")


def upgrade() -> None:
    op.add_column("transcripts", sa.Column("language", sa.String(length=16), nullable=True))
    connection = op.get_bind()
    after = None
    while True:
        parameters = {"characters": SAMPLE_CHARACTERS, "after": after, "batch": BATCH}
        rows = connection.execute(_NEXT_BATCH, parameters).all()
        if not rows:
            return
        read = [{"id": row.id, "language": spoken_language(row.sample)} for row in rows]
        if known := [row for row in read if row["language"] is not None]:
            connection.execute(_SET_LANGUAGE, known)
        after = rows[-1].id


def downgrade() -> None:
    op.drop_column("transcripts", "language")

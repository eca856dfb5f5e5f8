"""Passages, the unit of finding: runs of whole caption cues inside each chunk, each with its
second, its own full-text vector and (in passage_embeddings) its own embedding. Vectors move
from chunks to passages: chunk_embeddings is dropped, and an embed job is queued for every
stored transcript, which cuts its passages and embeds them in the background (`make embed`
does the same at once). Full-text search finds each transcript again as soon as its job has
cut the passages, before their vectors are in.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from pgvector.sqlalchemy import VECTOR

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_ATTEMPTS = 5


def created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def create_vector_table(table: str, *, key: str, parent: str) -> None:
    """A table of vectors for the rows of `parent`, any number of models each (the shape of
    0006's chunk_embeddings, which passage_embeddings takes over)."""
    op.create_table(
        table,
        sa.Column(key, sa.UUID(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("transcript_id", sa.UUID(), nullable=False),
        sa.Column("dims", sa.Integer(), nullable=False),
        sa.Column("embedding", VECTOR(), nullable=False),
        created_at(),
        sa.CheckConstraint("vector_dims(embedding) = dims", name=op.f(f"ck_{table}_dims_match")),
        sa.ForeignKeyConstraint(
            [key], [f"{parent}.id"], name=op.f(f"fk_{table}_{key}_{parent}"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(key, "model", name=op.f(f"pk_{table}")),
    )
    op.create_index(f"ix_{table}_user_id_model", table, ["user_id", "model"])


def upgrade() -> None:
    op.create_table(
        "passages",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("chunk_id", sa.UUID(), nullable=False),
        sa.Column("transcript_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("passage_index", sa.Integer(), nullable=False),
        sa.Column("passage_text", sa.Text(), nullable=False),
        sa.Column("word_offset", sa.Integer(), nullable=False),
        sa.Column("start_seconds", sa.Double(), nullable=True),
        sa.Column("end_seconds", sa.Double(), nullable=True),
        created_at(),
        sa.Column(
            "search_vector",
            sa.dialects.postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english', passage_text)", persisted=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["chunk_id"],
            ["chunks.id"],
            name=op.f("fk_passages_chunk_id_chunks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_passages_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passages")),
        sa.UniqueConstraint(
            "chunk_id", "passage_index", name=op.f("uq_passages_chunk_id_passage_index")
        ),
    )
    op.create_index("ix_passages_user_id", "passages", ["user_id"])
    op.create_index("ix_passages_transcript_id", "passages", ["transcript_id"])
    op.create_index(
        "ix_passages_search_vector", "passages", ["search_vector"], postgresql_using="gin"
    )
    create_vector_table("passage_embeddings", key="passage_id", parent="passages")
    op.drop_table("chunk_embeddings")  # its HNSW indexes go with it
    # The backfill: each stored transcript's passages are cut and embedded by an embed job.
    op.execute(
        sa.text("""
            INSERT INTO jobs (user_id, kind, youtube_video_id, transcript_id, languages,
                              max_attempts)
            SELECT t.user_id, 'embed', t.youtube_video_id, t.id, '[]'::jsonb, :attempts
              FROM transcripts t
             WHERE EXISTS (SELECT 1 FROM chunks c WHERE c.transcript_id = t.id)
        """).bindparams(attempts=BACKFILL_ATTEMPTS)
    )


def downgrade() -> None:
    create_vector_table("chunk_embeddings", key="chunk_id", parent="chunks")
    op.drop_table("passage_embeddings")
    op.drop_table("passages")

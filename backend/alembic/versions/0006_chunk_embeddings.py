"""Chunk embeddings (pgvector), and embed jobs beside ingest jobs.

The HNSW indexes are not created here: there is one per embedding model and vector length,
created when the application first meets that model (app/db/vector_index.py).

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from pgvector.sqlalchemy import VECTOR

from alembic import context, op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MISSING_PGVECTOR = (
    "The PostgreSQL server has no `vector` extension (pgvector), which chunk embeddings need. "
    "Install it on the server (Debian/Ubuntu: the postgresql-<major version>-pgvector package; "
    "containers: the pgvector/pgvector image, e.g. pgvector/pgvector:pg17), or leave "
    "DATABASE_URL unset to use the embedded PostgreSQL, which ships it."
)
ACTIVE_OR_DONE = "status IN ('queued', 'running', 'done')"


def require_extension(bind: sa.Connection, name: str, how_to_get_it: str) -> None:
    """Fail with instructions, rather than PostgreSQL's bare "could not open control file"."""
    available = bind.scalar(
        sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = :name"), {"name": name}
    )
    if not available:
        raise RuntimeError(how_to_get_it)


def upgrade() -> None:
    if not context.is_offline_mode():  # `alembic upgrade --sql` has no server to ask
        require_extension(op.get_bind(), "vector", MISSING_PGVECTOR)
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "chunk_embeddings",
        sa.Column("chunk_id", sa.UUID(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("transcript_id", sa.UUID(), nullable=False),
        sa.Column("dims", sa.Integer(), nullable=False),
        sa.Column("embedding", VECTOR(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "vector_dims(embedding) = dims", name=op.f("ck_chunk_embeddings_dims_match")
        ),
        sa.ForeignKeyConstraint(
            ["chunk_id"],
            ["chunks.id"],
            name=op.f("fk_chunk_embeddings_chunk_id_chunks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_chunk_embeddings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chunk_id", "model", name=op.f("pk_chunk_embeddings")),
    )
    op.create_index(
        "ix_chunk_embeddings_user_id_model", "chunk_embeddings", ["user_id", "model"], unique=False
    )
    op.drop_constraint(op.f("ck_jobs_kind_allowed"), "jobs", type_="check")
    op.create_check_constraint(
        op.f("ck_jobs_kind_allowed"), "jobs", "kind IN ('youtube_ingest', 'embed')"
    )
    _replace_one_active_ingest_index(f"kind = 'youtube_ingest' AND {ACTIVE_OR_DONE}")


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE kind <> 'youtube_ingest'")
    _replace_one_active_ingest_index(ACTIVE_OR_DONE)
    op.drop_constraint(op.f("ck_jobs_kind_allowed"), "jobs", type_="check")
    op.create_check_constraint(op.f("ck_jobs_kind_allowed"), "jobs", "kind IN ('youtube_ingest')")
    op.drop_table("chunk_embeddings")  # its HNSW indexes go with it
    # Fails, leaving everything as it was, if something else in the database uses the extension.
    op.execute("DROP EXTENSION IF EXISTS vector")


def _replace_one_active_ingest_index(predicate: str) -> None:
    op.drop_index("uq_jobs_one_active_per_user_video", table_name="jobs")
    op.create_index(
        "uq_jobs_one_active_per_user_video",
        "jobs",
        ["user_id", "youtube_video_id"],
        unique=True,
        postgresql_where=sa.text(predicate),
    )

"""Collections of videos (a playlist's, a channel's, or a list of links) with their videos in
order; chapters and a summary per transcript; conversations scoped to chosen videos and
collections.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def timestamp(name: str, *, server_default: str | None = "now()") -> sa.Column[object]:
    default = None if server_default is None else sa.text(server_default)
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=default, nullable=default is None
    )


def uuid_key() -> sa.Column[object]:
    return sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False)


def owner(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def create_collections() -> None:
    op.create_table(
        "collections",
        uuid_key(),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("source_id", sa.String(length=200), nullable=True),
        sa.Column("listing_error", sa.Text(), nullable=True),
        sa.Column(
            "listing_truncated", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        timestamp("refreshed_at"),
        timestamp("progress_event_at", server_default=None),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.CheckConstraint(
            "kind IN ('playlist', 'channel', 'videos')", name=op.f("ck_collections_kind_allowed")
        ),
        owner("collections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections")),
    )
    op.create_index(
        "ix_collections_user_id_created_at",
        "collections",
        ["user_id", sa.text("created_at DESC")],
    )
    op.create_index(
        "uq_collections_user_id_kind_source_id",
        "collections",
        ["user_id", "kind", "source_id"],
        unique=True,
        postgresql_where=sa.text("source_id IS NOT NULL"),
    )
    # set_updated_at() is migration 0001's.
    op.execute(
        "CREATE TRIGGER trg_collections_set_updated_at BEFORE UPDATE ON collections "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )
    op.create_table(
        "collection_videos",
        sa.Column("collection_id", sa.UUID(), nullable=False),
        sa.Column("youtube_video_id", sa.String(length=50), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("unavailable_reason", sa.Text(), nullable=True),
        sa.Column("job_id", sa.UUID(), nullable=True),
        timestamp("added_at"),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_collection_videos_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_collection_videos_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint(
            "collection_id", "youtube_video_id", name=op.f("pk_collection_videos")
        ),
    )
    op.create_index(op.f("ix_collection_videos_job_id"), "collection_videos", ["job_id"])


def create_chapters() -> None:
    op.create_table(
        "chapters",
        uuid_key(),
        sa.Column("transcript_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("chapter_index", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("start_seconds", sa.Double(), nullable=False),
        sa.Column("end_seconds", sa.Double(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        timestamp("created_at"),
        sa.CheckConstraint(
            "source IN ('description', 'computed', 'model')",
            name=op.f("ck_chapters_source_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["transcripts.id"],
            name=op.f("fk_chapters_transcript_id_transcripts"),
            ondelete="CASCADE",
        ),
        owner("chapters"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chapters")),
        sa.UniqueConstraint(
            "transcript_id", "chapter_index", name=op.f("uq_chapters_transcript_id_chapter_index")
        ),
    )
    op.create_index(op.f("ix_chapters_user_id"), "chapters", ["user_id"])
    op.add_column("transcripts", sa.Column("summary", sa.Text(), nullable=True))
    op.add_column("transcripts", sa.Column("chapters_source", sa.String(length=20), nullable=True))


def replace_usage_kinds(kinds: str) -> None:
    op.drop_constraint(op.f("ck_usage_events_kind_allowed"), "usage_events", type_="check")
    op.create_check_constraint(
        op.f("ck_usage_events_kind_allowed"), "usage_events", f"kind IN ({kinds})"
    )


def upgrade() -> None:
    create_collections()
    create_chapters()
    # A language model's titles for a transcript's chapters are recorded as `chapters`.
    replace_usage_kinds("'chat', 'draft', 'chapters'")
    for column in ("scope_transcript_ids", "scope_collection_ids"):
        op.add_column(
            "conversations", sa.Column(column, postgresql.ARRAY(sa.UUID()), nullable=True)
        )


def downgrade() -> None:
    op.execute("DELETE FROM usage_events WHERE kind = 'chapters'")
    replace_usage_kinds("'chat', 'draft'")
    for column in ("scope_collection_ids", "scope_transcript_ids"):
        op.drop_column("conversations", column)
    op.drop_column("transcripts", "chapters_source")
    op.drop_column("transcripts", "summary")
    op.drop_table("chapters")
    op.drop_table("collection_videos")
    op.execute("DROP TRIGGER trg_collections_set_updated_at ON collections")
    op.drop_table("collections")

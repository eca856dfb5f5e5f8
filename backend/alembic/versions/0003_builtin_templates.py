"""The four built-in default templates (linkedin, twitter, blog, email), seeded idempotently.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VARIABLES = ["topic", "tone", "key_points", "sources"]

BUILTIN_TEMPLATES = {
    "linkedin": (
        "Write a LinkedIn post about {topic} in a {tone} tone.\n\n"
        "Key points to cover:\n{key_points}\n\n"
        "Sources:\n{sources}\n\n"
        "Open with a one-line hook, keep paragraphs short, stay under 1,300 characters, "
        "and end with a question that invites comments."
    ),
    "twitter": (
        "Write a thread of at most 5 tweets about {topic} in a {tone} tone.\n\n"
        "Key points:\n{key_points}\n\n"
        "Sources:\n{sources}\n\n"
        "Each tweet under 280 characters; number them 1/, 2/, …; no hashtags in the first tweet."
    ),
    "blog": (
        "Write a blog post about {topic} in a {tone} tone.\n\n"
        "Key points:\n{key_points}\n\n"
        "Sources:\n{sources}\n\n"
        "Give it a title, a short introduction, one section per key point with a heading, "
        "and a conclusion. Cite the sources where they support a claim."
    ),
    "email": (
        "Write an email about {topic} in a {tone} tone.\n\n"
        "Key points:\n{key_points}\n\n"
        "Sources:\n{sources}\n\n"
        "Include a subject line, keep it under 200 words, and end with one clear next step."
    ),
}


def upgrade() -> None:
    for template_type, content in BUILTIN_TEMPLATES.items():
        # DO NOTHING on any clash (same name, or a built-in default already there): idempotent.
        op.execute(
            sa.text(
                "INSERT INTO templates "
                "(user_id, template_type, template_name, template_content, variables, is_default) "
                "VALUES (NULL, :type, :name, :content, CAST(:variables AS jsonb), true) "
                "ON CONFLICT DO NOTHING"
            ).bindparams(
                type=template_type,
                name=builtin_name(template_type),
                content=content,
                variables=json.dumps(VARIABLES),
            )
        )


def downgrade() -> None:
    for template_type in BUILTIN_TEMPLATES:
        op.execute(
            sa.text(
                "DELETE FROM templates WHERE user_id IS NULL "
                "AND template_type = :type AND template_name = :name"
            ).bindparams(type=template_type, name=builtin_name(template_type))
        )


def builtin_name(template_type: str) -> str:
    return f"Built-in {template_type}"

"""kg: the knowledge graph's builds, items and scored triples

Revision ID: 0004
Revises: 0005
Create Date: 2026-11-22

Numbered 0004 as planned, but it follows 0005 (jobs): 0005 was written
against 0003 first, and two migrations both following 0003 would leave two heads.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kg_builds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generator", sa.String(length=32), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("survivors", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kg_builds")),
    )
    op.create_table(
        "kg_items",
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_kg_items")),
    )
    with op.batch_alter_table("kg_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kg_items_entity"), ["entity"], unique=False)
    op.create_table(
        "kg_triples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(length=255), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=False),
        sa.Column("tail", sa.String(length=255), nullable=False),
        sa.Column("head_item", sa.String(length=32), nullable=True),
        sa.Column("tail_item", sa.String(length=32), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["build_id"], ["kg_builds.id"], name=op.f("fk_kg_triples_build_id_kg_builds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kg_triples")),
    )
    with op.batch_alter_table("kg_triples", schema=None) as batch_op:
        batch_op.create_index("ix_kg_triples_head_relation_score", ["head", "relation", "score"], unique=False)
        batch_op.create_index("ix_kg_triples_tail_relation_score", ["tail", "relation", "score"], unique=False)
        batch_op.create_index("ix_kg_triples_head_item_relation", ["head_item", "relation"], unique=False)
        batch_op.create_index("ix_kg_triples_tail_item_relation", ["tail_item", "relation"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kg_triples", schema=None) as batch_op:
        batch_op.drop_index("ix_kg_triples_tail_item_relation")
        batch_op.drop_index("ix_kg_triples_head_item_relation")
        batch_op.drop_index("ix_kg_triples_tail_relation_score")
        batch_op.drop_index("ix_kg_triples_head_relation_score")
    op.drop_table("kg_triples")
    with op.batch_alter_table("kg_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kg_items_entity"))
    op.drop_table("kg_items")
    op.drop_table("kg_builds")

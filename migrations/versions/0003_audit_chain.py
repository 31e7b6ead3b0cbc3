"""audit chain: seq, digests, call ids, and the chain head

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

from core.audit import CHAINED_FIELDS, GENESIS, HEAD_ID, chain_digest

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_digest", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("record_digest", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("call_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_records_call_id"), ["call_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_records_seq"), ["seq"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # Records written before the chain existed are chained in the order they were written.
    bind = op.get_bind()
    records = sa.table("audit_records", sa.column("id"), sa.column("seq"), sa.column("prev_digest"),
                       sa.column("record_digest"), *(sa.column(name) for name in CHAINED_FIELDS if name != "call_id"))
    prev, seq = GENESIS, 0
    rows = bind.execute(sa.select(records).order_by(records.c.id)).mappings().all()
    for row in rows:
        seq += 1
        values = {name: row.get(name) for name in CHAINED_FIELDS}
        current = chain_digest(prev, SimpleNamespace(**values))  # type: ignore[arg-type]
        bind.execute(records.update().where(records.c.id == row["id"]).values(seq=seq, prev_digest=prev, record_digest=current))
        prev = current
    op.bulk_insert(head, [{"id": HEAD_ID, "seq": seq, "digest": prev}])


def downgrade() -> None:
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_records_seq"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_audit_records_call_id"))
        batch_op.drop_column("call_id")
        batch_op.drop_column("record_digest")
        batch_op.drop_column("prev_digest")
        batch_op.drop_column("seq")

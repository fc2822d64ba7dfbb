"""Sweeps: the ``sweep`` and ``sweep_item`` tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``sweep`` and ``sweep_item``."""
    op.create_table(
        "sweep",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sweep")),
        sa.UniqueConstraint("name", name=op.f("uq_sweep_name")),
        comment="A named parameter sweep; its items are in sweep_item.",
    )
    op.create_table(
        "sweep_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sweep_id", sa.Integer(), nullable=False),
        sa.Column(
            "key",
            sa.String(length=64),
            nullable=False,
            comment="sha256 of the request's canonical JSON",
        ),
        sa.Column("index", sa.Integer(), nullable=False, comment="position in the expanded sweep"),
        sa.Column(
            "params",
            sa.JSON(none_as_null=True),
            nullable=False,
            comment="the varied parameters, by spec name",
        ),
        sa.Column(
            "request",
            sa.JSON(none_as_null=True),
            nullable=False,
            comment="the full BacktestRequest JSON",
        ),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column(
            "metrics",
            sa.JSON(none_as_null=True),
            nullable=True,
            comment="the result's `results` keys",
        ),
        sa.Column(
            "summary", sa.LargeBinary(), nullable=True, comment="zlib-compressed JSON summary"
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True, comment="wall time of the run"),
        sa.Column("warnings", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'failed')", name=op.f("ck_sweep_item_status")
        ),
        sa.ForeignKeyConstraint(
            ["sweep_id"],
            ["sweep.id"],
            name=op.f("fk_sweep_item_sweep_id_sweep"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sweep_item")),
        sa.UniqueConstraint("sweep_id", "key", name=op.f("uq_sweep_item_sweep_id_key")),
        comment="One configuration of a sweep and, once run, its outcome.",
    )
    op.create_index(op.f("ix_sweep_item_sweep_id_status"), "sweep_item", ["sweep_id", "status"])


def downgrade() -> None:
    """Drop ``sweep_item`` and ``sweep``."""
    op.drop_index(op.f("ix_sweep_item_sweep_id_status"), table_name="sweep_item")
    op.drop_table("sweep_item")
    op.drop_table("sweep")

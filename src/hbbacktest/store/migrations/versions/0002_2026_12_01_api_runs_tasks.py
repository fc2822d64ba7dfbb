"""The HTTP API: the ``run`` and ``task`` tables.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``run`` and ``task``."""
    op.create_table(
        "run",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column(
            "config_id", sa.String(length=64), nullable=False, comment="sha256 of the request"
        ),
        sa.Column(
            "task_id",
            sa.String(length=32),
            nullable=True,
            comment="the task that ran it, if any",
        ),
        sa.Column("controller_name", sa.String(length=200), nullable=False),
        sa.Column("controller_type", sa.String(length=100), nullable=False),
        sa.Column("connector_name", sa.String(length=100), nullable=False),
        sa.Column("trading_pair", sa.String(length=100), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False, comment="UTC epoch seconds"),
        sa.Column("end", sa.Integer(), nullable=False, comment="UTC epoch seconds"),
        sa.Column("backtesting_resolution", sa.String(length=16), nullable=False),
        sa.Column("fill_model", sa.String(length=16), nullable=False),
        sa.Column(
            "request",
            sa.JSON(none_as_null=True),
            nullable=False,
            comment="the full BacktestRequest JSON",
        ),
        sa.Column(
            "results",
            sa.JSON(none_as_null=True),
            nullable=False,
            comment="the result's `results` keys",
        ),
        sa.Column("warnings", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False, comment="wall time of the run"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("native_size", sa.Integer(), nullable=False, comment="bytes of the native JSON"),
        sa.Column(
            "native",
            sa.LargeBinary(),
            nullable=False,
            comment="gzip of the native result JSON",
        ),
        sa.Column(
            "upstream",
            sa.LargeBinary(),
            nullable=False,
            comment="gzip of the hummingbot-api JSON",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run")),
        comment="A finished backtest run through the API, both result encodings compressed.",
    )
    op.create_index(op.f("ix_run_created_at"), "run", ["created_at"], unique=False)
    op.create_index(
        op.f("ix_run_controller_name_trading_pair"),
        "run",
        ["controller_name", "trading_pair"],
        unique=False,
    )
    op.create_table(
        "task",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column(
            "body", sa.JSON(none_as_null=True), nullable=False, comment="the request body as posted"
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "error_kind", sa.String(length=64), nullable=True, comment="the error's class name"
        ),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'interrupted')",
            name=op.f("ck_task_status"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_task_run_id_run"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
        comment="A backtest submitted to the API's task queue.",
    )
    op.create_index(op.f("ix_task_status"), "task", ["status"], unique=False)
    op.create_index(op.f("ix_task_created_at"), "task", ["created_at"], unique=False)


def downgrade() -> None:
    """Drop ``task`` and ``run``."""
    op.drop_index(op.f("ix_task_created_at"), table_name="task")
    op.drop_index(op.f("ix_task_status"), table_name="task")
    op.drop_table("task")
    op.drop_index(op.f("ix_run_controller_name_trading_pair"), table_name="run")
    op.drop_index(op.f("ix_run_created_at"), table_name="run")
    op.drop_table("run")

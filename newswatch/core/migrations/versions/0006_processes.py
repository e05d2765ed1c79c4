"""processes: the heartbeat rows of a multi-process deployment (`newswatch run --roles`)

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("roles", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("leader", sa.Boolean(), nullable=False),
        sa.Column("polls_in_flight", sa.JSON(), nullable=False),
        sa.Column("polls_done", sa.Integer(), nullable=False),
        sa.Column("lag_p50", sa.Float(), nullable=True),
        sa.Column("lag_p95", sa.Float(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_processes_last_seen", "processes", ["last_seen"])


def downgrade() -> None:
    op.drop_index("ix_processes_last_seen", table_name="processes")
    op.drop_table("processes")

"""health alarms in the outbox: alerts without an article, with subject, message and alarm key

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column("story_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("article_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("subject", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("message", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("alarm_key", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint("uq_alerts_subscriber_alarm", ["subscriber", "alarm_key"])


def downgrade() -> None:
    op.execute("DELETE FROM alerts WHERE kind = 'health'")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_alerts_subscriber_alarm", type_="unique")
        batch_op.drop_column("alarm_key")
        batch_op.drop_column("message")
        batch_op.drop_column("subject")
        batch_op.alter_column("article_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("story_id", existing_type=sa.Integer(), nullable=False)

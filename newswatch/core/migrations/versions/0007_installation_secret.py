"""installation: one row with this installation's secret key (the ledger's destination keys are
HMACs under it, so a copied database does not let anyone test guesses of a notify URL offline)

Revision ID: 0007
Revises: 0006
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("secret", sa.String(length=64), nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "secret": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("installation")

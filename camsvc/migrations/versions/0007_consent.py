"""household cameras: the owner's consent to have their pictures viewed (issue 9)

Revision ID: 0007_consent
Revises: 0004_auth
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_consent"
down_revision = "0006_soft_delete"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (a batch rebuild of `camera` would cascade-delete camerasecret rows on SQLite)
    op.add_column(
        "camera", sa.Column("owner_consent", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("camera") as batch:
        batch.drop_column("owner_consent")

"""per-camera picture-fault thresholds

Revision ID: 0003_picture_thresholds
Revises: e709e09d19cf (alerts)
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_picture_thresholds"
down_revision = "e709e09d19cf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("camera") as batch:
        batch.add_column(sa.Column("picture_thresholds", sa.String(length=4000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("camera") as batch:
        batch.drop_column("picture_thresholds")

"""soft delete of cameras: camera.deleted_at (issue 9: deleting a camera keeps its history)

Revision ID: 0006_soft_delete
Revises: 0004_auth
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

import camsvc.models

revision = "0006_soft_delete"
down_revision = "0005_secrets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN: a batch rebuild of `camera` on SQLite drops the table, and with foreign keys on
    # that cascades to camerasecret (every stored camera password would be lost on upgrade)
    op.add_column("camera", sa.Column("deleted_at", camsvc.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")

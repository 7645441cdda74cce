"""secrets at rest: camera passwords, channel URLs and the signing key encrypted (issue 9)

The three columns become TEXT (a Fernet token is longer than the value it hides) and every plaintext value
already stored is encrypted with the installed keyring (camsvc.crypto.current(): camsvc.db.make_engine
installs it before the upgrade runs). On SQLite the replaced plaintext is zeroed in the file (secure_delete).

Revision ID: 0005_secrets
Revises: 0004_auth
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from camsvc import crypto

revision = "0005_secrets"
down_revision = "0004_auth"
branch_labels = None
depends_on = None

# what this revision encrypts (fixed here: later models may encrypt more, in their own revision)
COLUMNS = [("camerasecret", "password"), ("contactchannel", "url"), ("alertkv", "value")]
KEYS = {"camerasecret": "camera_id", "contactchannel": "id", "alertkv": "key"}
OLD_TYPES = {
    ("camerasecret", "password"): sqlmodel.sql.sqltypes.AutoString(),
    ("contactchannel", "url"): sqlmodel.sql.sqltypes.AutoString(length=2000),
    ("alertkv", "value"): sqlmodel.sql.sqltypes.AutoString(length=2000),
}


def _retype(to_text: bool) -> None:
    bind = op.get_bind()
    # SQLite rebuilds a table to change a column's type, and dropping the old contactchannel sets every
    # outboxmessage.channel_id to NULL (ON DELETE SET NULL): keep the links and put them back afterwards.
    links = bind.execute(
        sa.text("SELECT id, channel_id FROM outboxmessage WHERE channel_id IS NOT NULL")
    ).all()
    for (table, column), old in OLD_TYPES.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column,
                existing_type=old if to_text else sa.Text(),
                type_=sa.Text() if to_text else old,
                existing_nullable=False,
            )
    for message_id, channel_id in links:
        bind.execute(
            sa.text("UPDATE outboxmessage SET channel_id = :c WHERE id = :i AND channel_id IS NULL"),
            {"c": channel_id, "i": message_id},
        )


def _has_values(bind: sa.Connection) -> bool:
    return any(
        bind.execute(sa.text(f"SELECT 1 FROM {t} WHERE {c} IS NOT NULL AND {c} != '' LIMIT 1")).first()
        for t, c in COLUMNS
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        bind.exec_driver_sql("PRAGMA secure_delete=ON")  # the plaintext's old bytes are zeroed
    _retype(to_text=True)
    if _has_values(bind):  # a fresh database needs no key yet
        crypto.rotate_on(bind, COLUMNS, crypto.current())


def downgrade() -> None:
    bind = op.get_bind()
    ring = crypto.current() if _has_values(bind) else None
    for table, column in COLUMNS:
        pk = KEYS[table]
        rows = bind.execute(sa.text(f"SELECT {pk}, {column} FROM {table}")).all()
        for r, v in rows:
            if ring is not None and crypto.is_encrypted(v):
                bind.execute(
                    sa.text(f"UPDATE {table} SET {column} = :v WHERE {pk} = :r"),
                    {"v": ring.decrypt(v, f"{table}.{column}"), "r": r},
                )
    _retype(to_text=False)

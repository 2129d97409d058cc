"""Secret references and OAuth 2.0 client credentials (API version 2).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("relay_username_ref", sa.Text),
    ("relay_password_ref", sa.Text),
    ("client_id", lambda: sa.String(256)),
    ("client_id_ref", sa.Text),
    ("client_secret", sa.LargeBinary),
    ("client_secret_ref", sa.Text),
    ("token_endpoint", lambda: sa.String(2048)),
    ("oauth_scope", lambda: sa.String(1024)),
    ("oauth_audience", lambda: sa.String(1024)),
)


def upgrade() -> None:
    with op.batch_alter_table("profile") as batch:
        for name, column_type in _COLUMNS:
            batch.add_column(sa.Column(name, column_type(), nullable=True))


def downgrade() -> None:
    # Version 1 knows no OAuth: such a profile falls back to anonymous, and a password or
    # user name that came from a reference is gone with the reference.
    op.execute(
        sa.text(
            "UPDATE profile SET relay_auth_type = 0, relay_username = NULL, "
            "relay_password = NULL WHERE relay_auth_type = 3"
        )
    )
    with op.batch_alter_table("profile") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)

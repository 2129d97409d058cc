"""Profile and API users.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profile",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("host", sa.String(253), nullable=True),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("relay_auth_type", sa.Integer, nullable=False),
        sa.Column("relay_username", sa.String(256), nullable=True),
        sa.Column("relay_password", sa.LargeBinary, nullable=True),
        sa.Column("sender_account", sa.String(320), nullable=True),
        sa.Column("sender_name", sa.String(255), nullable=True),
        sa.Column("use_ssl", sa.Boolean, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=True),
    )
    op.create_table(
        "api_user",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("name_folded", sa.String(256), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("api_user")
    op.drop_table("profile")

"""An evidence pack of one site (a CQC location): exports.site_id.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 11:45:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_exports_site_id_sites"), "sites", ["site_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_exports_site_id_sites"), type_="foreignkey")
        batch_op.drop_column("site_id")

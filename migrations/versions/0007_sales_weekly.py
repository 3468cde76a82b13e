"""sales_weekly: vends per device, product and UTC week, for the fleet priors

The nightly run's fleet priors grouped every vend of the window (45 M rows at 20,000 machines); they now read
this table, which each import keeps current for the weeks it touched (services/imports/weekly.py). Filled here
from the sales already stored.

Revision ID: 0007_sales_weekly
Revises: 0006_llmbatch
Create Date: 2026-12-04 17:00:00

"""
from alembic import op
import sqlalchemy as sa

# 64-bit keys on PostgreSQL, as 0005_postgres made every other key (SQLite's INTEGER is 64-bit already).
KEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# revision identifiers, used by Alembic.
revision = '0007_sales_weekly'
down_revision = '0006_llmbatch'
branch_labels = None
depends_on = None

# The UTC day and the Monday of its week, as services/imports/weekly.py compiles them.
DAY = {'sqlite': 'date(ts)', 'postgresql': "CAST(timezone('UTC', ts) AS DATE)"}
WEEK = {
    'sqlite': "date(ts, 'weekday 0', '-6 days')",
    'postgresql': "CAST(date_trunc('week', timezone('UTC', ts)) AS DATE)",
}


def upgrade():
    op.create_table('sales_weekly',
    sa.Column('device_pk', KEY, nullable=False),
    sa.Column('product_id', KEY, nullable=False),
    sa.Column('week', sa.Date(), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['device_pk'], ['devices.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ),
    sa.PrimaryKeyConstraint('device_pk', 'product_id', 'week')
    )
    dialect = op.get_bind().dialect.name
    day, week = DAY[dialect], WEEK[dialect]
    op.execute(
        f"INSERT INTO sales_weekly (device_pk, product_id, week, units, last_day) "
        f"SELECT device_pk, product_id, {week}, COUNT(*), MAX({day}) FROM sales GROUP BY device_pk, product_id, {week}"
    )


def downgrade():
    op.drop_table('sales_weekly')

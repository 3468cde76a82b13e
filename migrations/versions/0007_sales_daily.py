"""sales_daily: vends per device, product and UTC day, for the fleet priors

The nightly run's fleet priors grouped every vend of the window (45 M rows at 20,000 machines); they now read
this table, which each import keeps current for the days it touched (services/imports/daily.py). Filled here
from the sales already stored.

Revision ID: 0007_sales_daily
Revises: 0006_llmbatch
Create Date: 2026-12-04 17:00:00

"""
from alembic import op
import sqlalchemy as sa

# 64-bit keys on PostgreSQL, as 0005_postgres made every other key (SQLite's INTEGER is 64-bit already).
KEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# revision identifiers, used by Alembic.
revision = '0007_sales_daily'
down_revision = '0006_llmbatch'
branch_labels = None
depends_on = None

DAY = {
    'sqlite': 'date(ts)',
    'postgresql': "CAST(timezone('UTC', ts) AS DATE)",
}


def upgrade():
    op.create_table('sales_daily',
    sa.Column('device_pk', KEY, nullable=False),
    sa.Column('product_id', KEY, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['device_pk'], ['devices.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ),
    sa.PrimaryKeyConstraint('device_pk', 'product_id', 'day')
    )
    with op.batch_alter_table('sales_daily', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_daily_day'), ['day'], unique=False)
    day = DAY[op.get_bind().dialect.name]
    op.execute(
        f"INSERT INTO sales_daily (device_pk, product_id, day, units) "
        f"SELECT device_pk, product_id, {day}, COUNT(*) FROM sales GROUP BY device_pk, product_id, {day}"
    )


def downgrade():
    with op.batch_alter_table('sales_daily', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_daily_day'))
    op.drop_table('sales_daily')

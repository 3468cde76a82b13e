"""provider batch APIs: the ledger's batch flag and the llm_batches job table

A call answered through Anthropic's Message Batches or OpenAI's Batch API is billed at the batch price;
its ledger row says so (`batch`). `llm_batches` keeps a batch job's items, provider ticket and outcome
between submitting and collecting.

Revision ID: 0006_llmbatch
Revises: 0005_postgres
Create Date: 2026-12-04 13:30:00

"""
from alembic import op
import sqlalchemy as sa

# 64-bit keys on PostgreSQL, as 0005_postgres made every other key (SQLite's INTEGER is 64-bit already).
KEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# revision identifiers, used by Alembic.
revision = '0006_llmbatch'
down_revision = '0005_postgres'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('llm_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch', sa.Boolean(), server_default='0', nullable=False))
    op.create_table('llm_batches',
    sa.Column('id', KEY, nullable=False),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('ticket', sa.JSON(), nullable=True),
    sa.Column('results', sa.JSON(), nullable=True),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.Column('cost_usd', sa.Numeric(precision=16, scale=8, asdecimal=False), nullable=False),
    sa.Column('requested_by_id', KEY, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade():
    op.drop_table('llm_batches')
    with op.batch_alter_table('llm_requests', schema=None) as batch_op:
        batch_op.drop_column('batch')

"""ledger: provider cache writes and what a cache hit saved

A cache hit sends nothing to the provider, so its input/output tokens are 0; the tokens and dollars the
original call cost go to the saved_* columns (ai-usage and the dashboard's "saved by cache").

Revision ID: 0004_llmsave
Revises: 0003
Create Date: 2026-12-04 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_llmsave'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('llm_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cache_write_tokens', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('saved_input_tokens', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('saved_output_tokens', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('saved_usd', sa.Numeric(precision=16, scale=8, asdecimal=False),
                                      server_default='0', nullable=False))
    # Rows written before: a cached row's tokens were the original call's, which is what it saved.
    op.execute("UPDATE llm_requests SET saved_input_tokens = input_tokens, saved_output_tokens = output_tokens, "
               "input_tokens = 0, output_tokens = 0, cached_tokens = 0 WHERE cached")


def downgrade():
    op.execute("UPDATE llm_requests SET input_tokens = saved_input_tokens, output_tokens = saved_output_tokens "
               "WHERE cached")
    with op.batch_alter_table('llm_requests', schema=None) as batch_op:
        batch_op.drop_column('saved_usd')
        batch_op.drop_column('saved_output_tokens')
        batch_op.drop_column('saved_input_tokens')
        batch_op.drop_column('cache_write_tokens')

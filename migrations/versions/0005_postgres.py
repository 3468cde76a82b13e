"""PostgreSQL: 64-bit keys (and post counts) as on SQLite

SQLite's INTEGER is 64-bit, PostgreSQL's is 32-bit: ids the API accepts (up to 2**63 - 1) and posts' counts
overflowed there. Every primary-key and foreign-key column, the serial sequences behind the keys and the
posts' engagement counts become BIGINT on PostgreSQL. SQLite needs nothing (INTEGER already holds 64 bits).

Revision ID: 0005_postgres
Revises: 0004_llmsave
Create Date: 2026-12-05 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005_postgres'
down_revision = '0004_llmsave'
branch_labels = None
depends_on = None

COUNTS = {'posts': {'impressions', 'likes', 'comments', 'shares', 'clicks'}}


def _key_columns(bind, type_):
    """(table, column, is primary key) for every key or count column whose type is ``type_``."""
    inspector = sa.inspect(bind)
    found = []
    for table in inspector.get_table_names():
        if table == 'alembic_version':
            continue
        pk = set(inspector.get_pk_constraint(table)['constrained_columns'])
        keys = pk | {c for fk in inspector.get_foreign_keys(table) for c in fk['constrained_columns']}
        keys |= COUNTS.get(table, set())
        for column in inspector.get_columns(table):
            if column['name'] in keys and type(column['type']) is type_:
                found.append((table, column['name'], column['name'] in pk))
    return found


def _retype(bind, from_type, to_type, sequence_type):
    for table, column, is_pk in _key_columns(bind, from_type):
        op.alter_column(table, column, type_=to_type, existing_type=from_type())
        if is_pk:
            sequence = bind.execute(sa.text('SELECT pg_get_serial_sequence(:t, :c)'),
                                    {'t': table, 'c': column}).scalar()
            if sequence:  # the serial's own sequence is still `AS integer` (max 2**31 - 1)
                op.execute(f'ALTER SEQUENCE {sequence} AS {sequence_type}')


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        _retype(bind, sa.INTEGER, sa.BigInteger(), 'bigint')


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        _retype(bind, sa.BIGINT, sa.Integer(), 'integer')

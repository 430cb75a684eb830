"""intel: recorded relations (亲属, 同案) for the relation graph

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zhihui.core.store

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('person_relations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('a', sa.String(length=18), nullable=False),
    sa.Column('b', sa.String(length=18), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', zhihui.core.store.UTCDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', zhihui.core.store.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_person_relations_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_relations')),
    sa.UniqueConstraint('a', 'b', 'kind', name='uq_person_relations_pair')
    )
    with op.batch_alter_table('person_relations', schema=None) as batch_op:
        batch_op.create_index('ix_person_relations_b', ['b'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('person_relations', schema=None) as batch_op:
        batch_op.drop_index('ix_person_relations_b')
    op.drop_table('person_relations')

"""major projects: list, construction plans, weekly reports, registration documents, zones, scoring

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_METRICS = "metric IN ('arrived_yuan', 'contracted_yuan', 'deals_signed', 'deals_started', 'reserve_yuan')"
NEW_METRICS = (
    "metric IN ('arrived_yuan', 'contracted_yuan', 'deals_signed', 'deals_started', 'reserve_yuan', "
    "'completed_investment_yuan')"
)


def upgrade() -> None:
    op.create_table('zone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('deal_zone',
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['deal_id'], ['deal.id'], ),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], ),
    sa.PrimaryKeyConstraint('deal_id')
    )
    with op.batch_alter_table('deal_zone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deal_zone_zone_id'), ['zone_id'], unique=False)
    op.create_table('major_project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('planned_yuan', sa.BigInteger(), nullable=True),
    sa.Column('content', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('import_batch', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("category IN ('continuing', 'new_start', 'preliminary')", name='ck_major_project_category'),
    sa.CheckConstraint('planned_yuan IS NULL OR planned_yuan >= 0', name='ck_major_project_planned_nonneg'),
    sa.CheckConstraint('year BETWEEN 2000 AND 2999', name='ck_major_project_year'),
    sa.ForeignKeyConstraint(['deal_id'], ['deal.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('deal_id', 'year', name='uq_major_project_deal_year')
    )
    with op.batch_alter_table('major_project', schema=None) as batch_op:
        batch_op.create_index('ix_major_project_year', ['year'], unique=False)
    op.create_table('major_project_leader',
    sa.Column('major_project_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['major_project_id'], ['major_project.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('major_project_id', 'person_id'),
    sa.UniqueConstraint('major_project_id', 'position', name='uq_major_project_leader_position')
    )
    op.create_table('construction_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('major_project_id', sa.Integer(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['major_project_id'], ['major_project.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('major_project_id')
    )
    op.create_table('plan_month',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('planned_yuan', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('planned_yuan >= 0', name='ck_plan_month_nonneg'),
    sa.ForeignKeyConstraint(['plan_id'], ['construction_plan.id'], ),
    sa.PrimaryKeyConstraint('plan_id', 'month')
    )
    op.create_table('progress_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('major_project_id', sa.Integer(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('progress', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('week_yuan', sa.BigInteger(), nullable=False),
    sa.Column('cumulative_yuan', sa.BigInteger(), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('import_batch', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.CheckConstraint('cumulative_yuan >= week_yuan', name='ck_progress_report_cumulative'),
    sa.CheckConstraint('week_yuan >= 0', name='ck_progress_report_week_nonneg'),
    sa.ForeignKeyConstraint(['major_project_id'], ['major_project.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('major_project_id', 'week_start', name='uq_progress_report_week')
    )
    with op.batch_alter_table('progress_report', schema=None) as batch_op:
        batch_op.create_index('ix_progress_report_week', ['week_start'], unique=False)
    op.create_table('plan_milestone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=False),
    sa.Column('reached_on', sa.Date(), nullable=True),
    sa.Column('reached_report_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['construction_plan.id'], ),
    sa.ForeignKeyConstraint(['reached_report_id'], ['progress_report.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_id', 'name', name='uq_plan_milestone_name')
    )
    with op.batch_alter_table('plan_milestone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_milestone_plan_id'), ['plan_id'], unique=False)
    op.create_table('progress_problem',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('problem', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('resolution', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['progress_report.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('progress_problem', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_progress_problem_report_id'), ['report_id'], unique=False)
    op.create_table('registration_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('evidence_ref', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.CheckConstraint("kind IN ('approval', 'construction_permit', 'main_contract')", name='ck_registration_document_kind'),
    sa.ForeignKeyConstraint(['deal_id'], ['deal.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('deal_id', 'kind', name='uq_registration_document_kind')
    )
    op.create_table('scoring_weights',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('plan_points', sa.Integer(), nullable=False),
    sa.Column('start_points', sa.Integer(), nullable=False),
    sa.Column('milestone_points', sa.Integer(), nullable=False),
    sa.Column('report_points', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('plan_points >= 0 AND start_points >= 0 AND milestone_points >= 0 AND report_points >= 0', name='ck_scoring_weights_nonneg'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'version', name='uq_scoring_weights_name_version')
    )
    # counting rules gain the major projects' tolerance and report deadline; on SQLite the
    # batch recreates the table (reflected CHECK constraints included)
    with op.batch_alter_table('counting_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress_tolerance', sa.Float(), server_default='0.1', nullable=False))
        batch_op.add_column(sa.Column('report_deadline_weekday', sa.Integer(), server_default='5', nullable=False))
        batch_op.add_column(
            sa.Column('report_deadline_time', sqlmodel.sql.sqltypes.AutoString(length=5), server_default='12:00',
                      nullable=False)
        )
        batch_op.create_check_constraint(
            'ck_rules_progress_tolerance', 'progress_tolerance >= 0 AND progress_tolerance < 1'
        )
        batch_op.create_check_constraint('ck_rules_report_deadline_weekday', 'report_deadline_weekday BETWEEN 1 AND 7')
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.alter_column(
            'metric',
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=24),
            type_=sqlmodel.sql.sqltypes.AutoString(length=32),
            existing_nullable=False,
        )
        batch_op.drop_constraint('ck_target_metric', type_='check')
        batch_op.create_check_constraint('ck_target_metric', NEW_METRICS)


def downgrade() -> None:
    op.execute("DELETE FROM target WHERE metric = 'completed_investment_yuan'")
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.drop_constraint('ck_target_metric', type_='check')
        batch_op.create_check_constraint('ck_target_metric', OLD_METRICS)
        batch_op.alter_column(
            'metric',
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=32),
            type_=sqlmodel.sql.sqltypes.AutoString(length=24),
            existing_nullable=False,
        )
    with op.batch_alter_table('counting_rules', schema=None) as batch_op:
        batch_op.drop_constraint('ck_rules_report_deadline_weekday', type_='check')
        batch_op.drop_constraint('ck_rules_progress_tolerance', type_='check')
        batch_op.drop_column('report_deadline_time')
        batch_op.drop_column('report_deadline_weekday')
        batch_op.drop_column('progress_tolerance')
    op.drop_table('scoring_weights')
    op.drop_table('registration_document')
    with op.batch_alter_table('progress_problem', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_progress_problem_report_id'))
    op.drop_table('progress_problem')
    with op.batch_alter_table('plan_milestone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_milestone_plan_id'))
    op.drop_table('plan_milestone')
    with op.batch_alter_table('progress_report', schema=None) as batch_op:
        batch_op.drop_index('ix_progress_report_week')
    op.drop_table('progress_report')
    op.drop_table('plan_month')
    op.drop_table('construction_plan')
    op.drop_table('major_project_leader')
    with op.batch_alter_table('major_project', schema=None) as batch_op:
        batch_op.drop_index('ix_major_project_year')
    op.drop_table('major_project')
    with op.batch_alter_table('deal_zone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deal_zone_zone_id'))
    op.drop_table('deal_zone')
    op.drop_table('zone')

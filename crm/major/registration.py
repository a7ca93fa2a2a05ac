"""入库 readiness: the documents the statistics bureau needs before a started project is registered.

The three required documents (入库材料) are the approval (审批/核准/备案文件), the
construction permit (施工许可证) and the main construction contract (主体工程施工合同),
each with its number, date and where the evidence is kept. ``crm.deals.register``
refuses a deal that lacks one, unless forced with a reason (audited).

This module imports neither crm.deals nor crm.ledgers, so crm.deals can use it.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from crm.audit import record_changes, record_creation
from crm.db import unit_of_work
from crm.errors import NotFound
from crm.major import common
from crm.models import REGISTRATION_DOCUMENT_LABELS, Deal, RegistrationDocument, RegistrationDocumentKind

__all__ = ["REQUIRED_DOCUMENTS", "missing_documents", "missing_labels", "record_document"]

REQUIRED_DOCUMENTS = tuple(RegistrationDocumentKind)


def record_document(
    session: Session,
    deal_id: int,
    *,
    kind: str,
    number: str,
    issued_on: date,
    actor: str,
    evidence_ref: str | None = None,
    commit: bool = True,
) -> RegistrationDocument:
    """Record (or correct, audited) one registration document of a deal.

    `kind` is a value or label: approval / 审批/核准/备案文件 (审批, 核准, 备案),
    construction_permit / 施工许可证, main_contract / 主体工程施工合同.
    """
    actor = common.actor_name(actor)
    kind_value = common.document_kind(kind)
    number_text = common.required_text("number", number, 128)
    day = common.day("issued_on", issued_on)
    evidence = common.text("evidence_ref", evidence_ref, 200)
    deal = session.get(Deal, deal_id) if isinstance(deal_id, int) and not isinstance(deal_id, bool) else None
    if deal is None:
        raise NotFound("deal", deal_id)
    with unit_of_work(session, commit=commit):
        document = session.exec(
            select(RegistrationDocument).where(
                RegistrationDocument.deal_id == deal.id, RegistrationDocument.kind == kind_value
            )
        ).first()
        values: dict[str, object] = {"number": number_text, "issued_on": day, "evidence_ref": evidence}
        if document is None:
            document = RegistrationDocument(
                deal_id=common.ident(deal), kind=kind_value, number=number_text, issued_on=day, evidence_ref=evidence
            )
            session.add(document)
            session.flush()
            record_creation(session, document, actor=actor)
        else:
            record_changes(session, document, values, actor=actor, action="correct")
        session.flush()
    return document


def missing_documents(session: Session, deal_id: int) -> list[str]:
    """The required document kinds (values) a deal has not recorded, in REQUIRED_DOCUMENTS order."""
    have = set(session.exec(select(RegistrationDocument.kind).where(RegistrationDocument.deal_id == deal_id)).all())
    return [k.value for k in REQUIRED_DOCUMENTS if k.value not in have]


def missing_labels(kinds: list[str]) -> str:
    """``施工许可证、主体工程施工合同`` for a list of kind values."""
    return "、".join(REGISTRATION_DOCUMENT_LABELS[RegistrationDocumentKind(k)] for k in kinds)

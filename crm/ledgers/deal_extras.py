"""The columns a deals ledger carries beyond signing and state: 未开工原因, 跟踪责任人, and the procedures.

They land through the capability's own calls in ``crm.deals`` (``set_stall``, ``assign_owner``,
``set_procedure``), each audited, after the deal is signed and moved to its state:

- 未开工原因: a stall reason's code or label (资金未落实, land ...); other text is recorded as
  其他 (``other``) with the text as the stall note, and said so. Only a deal not yet started
  has a stall reason: on a started or terminated deal the cell is ignored, and said so.
- 跟踪责任人: the person who follows the deal up (created when missing); not for a terminated deal.
- 立项 / 用地 / 环评 / 规划许可 / 施工许可: a date (done that day), 已办 (done), 办理中 (in progress)
  or 未办 (not started); a terminated deal's procedures are closed and left alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from crm import deals
from crm.db import core_select as select
from crm.ledgers.cells import fold
from crm.models import DealState, StallReason

if TYPE_CHECKING:
    from crm.ledgers.imports import Batch

PROCEDURE_COLUMNS = ("approval", "land", "environment", "planning", "construction_permit")
_OTHER = "other"


def collect(
    session: Session, batch: Batch, i: int, state: str | None, reasons: dict[str, str] | None = None
) -> dict[str, Any]:
    """What row `i` says beyond signing: {'stall': (code, note), 'owner': name, 'procedures': {kind: (state, day)}}.

    `reasons` maps folded codes and labels to codes (``stall_reasons``); warnings go to the table.
    """
    out: dict[str, Any] = {}
    row = batch.table.rows[i]
    text = batch.col("stall_reason")[i]
    if text is not None:
        if state != DealState.signed:
            batch.table.warnings.append(
                f"row {row}: {batch.header('stall_reason')} is for a deal not yet started; ignored ({state})"
            )
        else:
            known = (reasons if reasons is not None else stall_reasons(session)).get(fold(text))
            if known is None:
                batch.table.warnings.append(
                    f"row {row}: {batch.header('stall_reason')} {text!r} recorded as 其他 (other)"
                )
                out["stall"] = (_OTHER, text)
            else:
                out["stall"] = (known, None)
    owner = batch.col("follow_up_owner")[i]
    if owner is not None and state != DealState.terminated:
        out["owner"] = owner
    procedures = {k: batch.col(k)[i] for k in PROCEDURE_COLUMNS if batch.col(k)[i] is not None}
    if procedures and state != DealState.terminated:
        out["procedures"] = procedures
    return out


def stall_reasons(session: Session) -> dict[str, str]:
    """Folded code and label of every stall reason -> its code."""
    out: dict[str, str] = {}
    for code, label in session.execute(select(StallReason.code, StallReason.label)):
        out[fold(code)] = code
        out[fold(label)] = code
    return out


def apply(session: Session, deal_id: int, extras: dict[str, Any], *, actor: str) -> None:
    """Record what `collect` found for a deal through crm.deals (in the caller's transaction)."""
    for kind, (state, day) in extras.get("procedures", {}).items():
        deals.set_procedure(session, deal_id, kind, state=state, done_on=day, actor=actor, commit=False)
    owner = extras.get("owner")
    if "stall" in extras:
        code, note = extras["stall"]
        deals.set_stall(session, deal_id, reason=code, owner=owner, note=note, actor=actor, commit=False)
    elif owner is not None:
        deals.assign_owner(session, deal_id, owner=owner, actor=actor, commit=False)

"""Investors (投资方) recorded twice: finding the likely duplicates and merging them, audited.

Two rows cannot share a credit code or a normalised name (the schema refuses both), so
the duplicates left are spellings the normalisation does not meet: names that are equal
once every bracketed part and place prefix is dropped, or very similar (difflib ratio ≥
``SIMILAR``). Merging moves every deal of the others to the kept investor (one audit row
per deal), fills the kept investor's blank credit code and origin from them, and removes
the emptied rows (one audit row each): an investor holds no money of its own.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, col, select

from crm.audit import record, record_changes
from crm.db import unit_of_work
from crm.deals import normalize_investor_name
from crm.errors import Duplicate, InvalidValue, NotFound, Refused
from crm.models import Deal, Investor
from crm.reference import REGIONS

SIMILAR = 0.8
DUPLICATE_COLUMNS = ["group", "investor_id", "name", "credit_code", "deals", "reason"]
_BRACKETED = re.compile(r"[（(][^）)]*[）)]")
_PLACES = sorted({p for short, full, _ in REGIONS for p in (short, full)}, key=len, reverse=True)


def _loose_key(name_key: str, name: str) -> str:
    """The name without its bracketed parts and a leading province: 甘肃示例能源 and 示例能源（甘肃） meet."""
    text = _BRACKETED.sub("", unicodedata.normalize("NFKC", name)).casefold()
    text = "".join(text.split())
    for place in _PLACES:
        if text.startswith(place) and len(text) > len(place) + 1:
            text = text[len(place) :]
            break
    try:
        return normalize_investor_name(text)
    except InvalidValue:
        return name_key


def duplicates(session: Session, *, similar: float = SIMILAR) -> pd.DataFrame:
    """Groups of investors that are probably one enterprise, one row per investor (DUPLICATE_COLUMNS).

    `reason` says why the investor is in its group: ``same name once normalised`` or
    ``similar name (0.91)``. Investors with different credit codes are never grouped.
    """
    counts = {
        i: n for i, n in session.execute(select(col(Deal.investor_id), func.count()).group_by(col(Deal.investor_id)))
    }
    investors = list(session.exec(select(Investor).order_by(col(Investor.id))).all())
    parent = {inv.id: inv.id for inv in investors}
    reason: dict[int, str] = {}

    def find(i: Any) -> Any:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(a: Investor, b: Investor, why: str) -> None:
        if a.credit_code and b.credit_code and a.credit_code != b.credit_code:
            return
        parent[find(b.id)] = find(a.id)
        assert a.id is not None and b.id is not None
        reason.setdefault(a.id, why)
        reason[b.id] = why

    by_loose: dict[str, Investor] = {}
    for inv in investors:
        loose = _loose_key(inv.name_key, inv.name)
        if loose in by_loose:
            join(by_loose[loose], inv, "same name once normalised")
        else:
            by_loose[loose] = inv
    # similar names share their first two characters in practice; comparing within those blocks
    # keeps the search near-linear on a province's investors
    blocks: dict[str, list[Investor]] = {}
    for inv in investors:
        blocks.setdefault(inv.name_key[:2], []).append(inv)
    for block in blocks.values():
        for i, a in enumerate(block):
            for b in block[i + 1 :]:
                if find(a.id) == find(b.id):
                    continue
                ratio = difflib.SequenceMatcher(None, a.name_key, b.name_key).ratio()
                if ratio >= similar:
                    join(a, b, f"similar name ({ratio:.2f})")
    groups: dict[Any, list[Investor]] = {}
    for inv in investors:
        groups.setdefault(find(inv.id), []).append(inv)
    rows = []
    number = 0
    for members in groups.values():
        if len(members) < 2:
            continue
        number += 1
        for inv in members:
            assert inv.id is not None
            rows.append([number, inv.id, inv.name, inv.credit_code, counts.get(inv.id, 0), reason.get(inv.id, "")])
    return pd.DataFrame(rows, columns=DUPLICATE_COLUMNS)


def merge(session: Session, keep: int, others: Sequence[int], *, actor: str, commit: bool = True) -> Investor:
    """Merge investors `others` into `keep`: their deals move to `keep` (audited per deal), blanks
    of `keep` are filled from them, and the emptied rows are removed (audited). All or nothing.

    Refused when two of them carry different credit codes, or when a moved deal would repeat
    one of `keep`'s (same project and signing date).
    """
    if not isinstance(actor, str) or not actor.strip():
        raise InvalidValue("actor", actor, "who makes the change is required")
    kept = session.get(Investor, keep, with_for_update=True)
    if kept is None:
        raise NotFound("investor", keep)
    merged = []
    for other_id in dict.fromkeys(others):
        if other_id == keep:
            raise InvalidValue("other", other_id, "an investor cannot be merged into itself")
        other = session.get(Investor, other_id, with_for_update=True)
        if other is None:
            raise NotFound("investor", other_id)
        merged.append(other)
    if not merged:
        raise InvalidValue("others", others, "name at least one investor to merge")
    codes = {i.credit_code for i in [kept, *merged] if i.credit_code}
    if len(codes) > 1:
        shown = ", ".join(f"{i.name} {i.credit_code}" for i in [kept, *merged] if i.credit_code)
        raise Refused(f"different credit codes, so not one enterprise: {shown}")
    own = {(d.project_name, d.signed_on): d for d in session.exec(select(Deal).where(Deal.investor_id == keep)).all()}
    moving = list(session.exec(select(Deal).where(col(Deal.investor_id).in_([o.id for o in merged]))).all())
    for deal in moving:
        clash = own.get((deal.project_name, deal.signed_on))
        if clash is not None:
            raise Duplicate(
                f"deal {deal.id} ({deal.project_name}, signed {deal.signed_on}) repeats deal {clash.id} of "
                f"{kept.name}; terminate or correct one of them first"
            )
        own[(deal.project_name, deal.signed_on)] = deal
    names = {o.id: o.name for o in merged}
    with unit_of_work(session, commit=commit):
        blanks: dict[str, Any] = {}
        for other in merged:
            for field in ("credit_code", "origin_region_id", "origin_city"):
                if getattr(kept, field) is None and field not in blanks and getattr(other, field) is not None:
                    blanks[field] = getattr(other, field)
        for deal in moving:
            record(
                session,
                actor=actor,
                action="merge",
                entity="deal",
                entity_id=deal.id,
                field="investor",
                old=names[deal.investor_id],
                new=kept.name,
            )
            deal.investor_id = keep
            session.add(deal)
        session.flush()
        for other in merged:
            record(
                session,
                actor=actor,
                action="merge",
                entity="investor",
                entity_id=other.id,
                field="merged_into",
                old=other.name,
                new=kept.name,
                note=f"investor {other.id} merged into {keep}",
            )
            session.delete(other)
        session.flush()  # the others' credit code is free before the kept row takes it
        if blanks:
            record_changes(session, kept, blanks, actor=actor, action="merge")
    return kept

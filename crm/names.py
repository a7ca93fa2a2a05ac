"""Names must exist: the one resolver for every option and filter that names a reference row.

A unit, person, industry, region, squad, signing event, stall reason or target scope
given by a caller is looked up here; an unknown one raises ``UnknownName`` with the
closest existing names (``unit 县商务: no such unit; did you mean 县商务局?``), so a typo
never gives silent zeros or a new row. Ledgers are different: the names a ledger brings
are created by the importer and listed (``new_names``).

`field` is the role a name plays (``unit``, ``credited_unit``, ``leader``, ``introducer``,
``owner``, ``industry``, ``origin``, ``region``, ``squad``, ``signing_event``,
``stall_reason``); ``ROLES`` maps it to the reference kind.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, SQLModel, col, select

from crm.errors import InvalidValue
from crm.models import Industry, Person, Region, RegionAlias, SigningEvent, Squad, StallReason, Unit


@dataclass(frozen=True)
class Kind:
    """A reference table whose rows are named: its model, the column holding the name, what to call it."""

    name: str
    model: type[SQLModel]
    column: str
    what: str


KINDS: dict[str, Kind] = {
    "unit": Kind("unit", Unit, "name", "unit"),
    "person": Kind("person", Person, "name", "person"),
    "industry": Kind("industry", Industry, "name", "industry"),
    "region": Kind("region", Region, "name", "province-level division"),
    "squad": Kind("squad", Squad, "name", "squad"),
    "signing_event": Kind("signing_event", SigningEvent, "name", "signing event"),
    "stall_reason": Kind("stall_reason", StallReason, "label", "stall reason"),
}
ROLES: dict[str, str] = {
    "unit": "unit",
    "credited_unit": "unit",
    "person": "person",
    "leader": "person",
    "introducer": "person",
    "owner": "person",
    "member": "person",
    "industry": "industry",
    "origin": "region",
    "region": "region",
    "squad": "squad",
    "signing_event": "signing_event",
    "stall_reason": "stall_reason",
}


class UnknownName(InvalidValue):
    """A name that no row of its reference table carries; `suggestions` are the closest ones."""

    def __init__(self, field: str, value: object, what: str, suggestions: list[str], known: list[str]) -> None:
        self.suggestions = suggestions
        if suggestions:
            hint = f"did you mean {'、'.join(suggestions)}?"
        elif known:
            shown = "、".join(known[:12]) + (" ..." if len(known) > 12 else "")
            hint = f"known: {shown}"
        else:
            hint = f"there is no {what} yet (add one with `crm ref add`)"
        super().__init__(field, value, f"no such {what}; {hint}")

    def __str__(self) -> str:
        return f"{self.field} {self.value} — {self.reason}"


def fold(text: str) -> str:
    """A name as compared: NFKC (full-width to half-width), inner spaces removed."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The existing names closest to `name`: those containing it (or contained in it) first, then difflib's."""
    key = fold(name)
    pool = list(dict.fromkeys(candidates))
    inside = [c for c in pool if key and (key in fold(c) or fold(c) in key)]
    similar = difflib.get_close_matches(key, [fold(c) for c in pool], n=n, cutoff=0.5)
    by_fold = {fold(c): c for c in pool}
    found = list(dict.fromkeys([*inside, *(by_fold[s] for s in similar)]))
    return found[:n]


def kind_of(field: str) -> Kind:
    try:
        return KINDS[ROLES[field]]
    except KeyError:
        raise InvalidValue("field", field, f"names one of {', '.join(ROLES)}") from None


def all_names(session: Session, kind: str) -> list[str]:
    """Every name of a reference kind, in the order rows were added."""
    k = KINDS[kind]
    column = getattr(k.model, k.column)
    return list(session.exec(select(column).order_by(col(k.model.id))).all())  # type: ignore[attr-defined]


def find(session: Session, field: str, name: str) -> Any | None:
    """The row `name` denotes for `field` (a role such as ``leader``), or None."""
    k = kind_of(field)
    text = fold(name)
    if not text:
        return None
    if k.name == "region":
        from crm.reference import region_short_name  # crm.reference imports this module: the cycle is broken here

        try:
            text = region_short_name(text)
        except InvalidValue:
            alias = session.exec(select(RegionAlias).where(RegionAlias.alias == text)).first()
            return None if alias is None else session.get(Region, alias.region_id)
    column = getattr(k.model, k.column)
    row = session.exec(select(k.model).where(column == text)).first()
    if row is None and k.name == "stall_reason":
        row = session.exec(select(StallReason).where(StallReason.code == text)).first()
    if row is None and text != name.strip():
        row = session.exec(select(k.model).where(column == name.strip())).first()
    if row is None:
        # names stored with spaces or full-width characters still meet their folded spelling
        for candidate in session.exec(select(k.model)).all():
            if fold(getattr(candidate, k.column)) == text:
                return candidate
    return row


def resolve(session: Session, field: str, name: str) -> Any:
    """The row `name` denotes for `field`; UnknownName with the closest names when there is none."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue(field, name, "a name is required")
    row = find(session, field, name)
    if row is None:
        k = kind_of(field)
        known = all_names(session, k.name)
        raise UnknownName(field, name.strip(), k.what, closest(name, known), known)
    return row


def resolve_id(session: Session, field: str, name: str) -> int:
    """The id of the row `name` denotes for `field` (see `resolve`)."""
    row_id = resolve(session, field, name).id
    assert row_id is not None
    return int(row_id)


def check(session: Session, field: str, name: str | None) -> str | None:
    """The stored spelling of `name` for `field`, None for None; UnknownName when there is none."""
    if name is None or not str(name).strip():
        return None
    k = kind_of(field)
    return str(getattr(resolve(session, field, name), k.column))


def scope(session: Session, name: str | None) -> str | None:
    """A target scope: ``county`` or the name of a unit or a leader; UnknownName listing the closest."""
    if name is None or not name.strip():
        return None
    text = name.strip()
    if text in ("county", "全县"):
        return "county"
    for field in ("unit", "leader"):
        row = find(session, field, text)
        if row is not None:
            return str(row.name)
    known = ["county", *all_names(session, "unit"), *all_names(session, "person")]
    raise UnknownName("scope", text, "scope (county, a unit or a leader)", closest(text, known), known)

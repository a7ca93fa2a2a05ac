"""What the major-project modules share: argument checks and name look-ups.

Every check raises InvalidValue naming the field, the reason and the value given.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlmodel import Session, select

from crm.errors import InvalidValue, NotFound
from crm.models import (
    MAJOR_CATEGORY_LABELS,
    REGISTRATION_DOCUMENT_LABELS,
    MajorProject,
    Person,
    Unit,
    Zone,
)
from crm.reference import get_or_create_person, get_or_create_unit

LOCAL = timezone(timedelta(hours=8), "CST")  # China Standard Time: report deadlines and times people write


def text(field: str, value: object, max_length: int, *, required: bool = False) -> str | None:
    """`value` trimmed; None when blank (InvalidValue when `required`)."""
    if value is None or (isinstance(value, str) and not value.replace("\u3000", " ").strip()):
        if required:
            raise InvalidValue(field, value, "required")
        return None
    if not isinstance(value, str):
        raise InvalidValue(field, value, f"expected text, not {type(value).__name__}")
    out = value.replace("\u3000", " ").strip()
    if len(out) > max_length:
        raise InvalidValue(field, value, f"at most {max_length} characters")
    return out


def required_text(field: str, value: object, max_length: int) -> str:
    out = text(field, value, max_length, required=True)
    assert out is not None
    return out


def actor_name(actor: object) -> str:
    return required_text("actor", actor, 64)


def day(field: str, value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        raise InvalidValue(field, value, "expected a date (YYYY-MM-DD)")
    return value


def yuan(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, value, "expected whole yuan as an integer (use crm.parse_yuan for text)")
    if value < 0:
        raise InvalidValue(field, value, "an amount cannot be negative")
    return value


def year(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 2000 <= value <= 2999:
        raise InvalidValue(field, value, "expected a year such as 2026")
    return value


def _choice(field: str, value: object, labels: dict[Any, str]) -> str:
    if isinstance(value, str):
        wanted = value.strip()
        for member, label in labels.items():
            if wanted in (member.value, label) or wanted in label.split("/"):
                return str(member.value)
    shown = ", ".join(f"{label} ({member.value})" for member, label in labels.items())
    raise InvalidValue(field, value, f"use one of {shown}")


def category(value: object) -> str:
    """A MajorCategory value from its value or label (续建, 新开工, 前期)."""
    return _choice("category", value, MAJOR_CATEGORY_LABELS)


def document_kind(value: object) -> str:
    """A RegistrationDocumentKind value from its value or label (审批/核准/备案文件, 施工许可证, 主体工程施工合同)."""
    extra = {"审批": "approval", "核准": "approval", "备案": "approval", "合同": "main_contract"}
    if isinstance(value, str) and value.strip() in extra:
        return extra[value.strip()]
    return _choice("kind", value, REGISTRATION_DOCUMENT_LABELS)


def closest(name: str, names: Iterable[str]) -> str:
    found = difflib.get_close_matches(name, list(names), n=3, cutoff=0.3)
    return f"; closest: {', '.join(found)}" if found else ""


def unit(session: Session, name: str, *, actor: str, create: bool = False) -> Unit:
    """The unit named `name`: NotFound with the closest names, or created (audited) when `create`."""
    if create:
        return get_or_create_unit(session, name, actor=actor)
    found = session.exec(select(Unit).where(Unit.name == name)).first()
    if found is None:
        raise InvalidValue("unit", name, "no such unit" + closest(name, session.exec(select(Unit.name)).all()))
    return found


def person(session: Session, name: str, *, actor: str, create: bool = False) -> Person:
    """The person named `name`: NotFound with the closest names, or created (audited) when `create`."""
    if create:
        return get_or_create_person(session, name, actor=actor)
    found = session.exec(select(Person).where(Person.name == name)).first()
    if found is None:
        raise InvalidValue("leader", name, "no such person" + closest(name, session.exec(select(Person.name)).all()))
    return found


def zone(session: Session, name: str) -> Zone:
    found = session.exec(select(Zone).where(Zone.name == name)).first()
    if found is None:
        raise InvalidValue("zone", name, "no such zone (园区)" + closest(name, session.exec(select(Zone.name)).all()))
    return found


def get_major_project(session: Session, major_project_id: int, *, for_update: bool = False) -> MajorProject:
    """The major project with id `major_project_id`; NotFound if there is none."""
    if isinstance(major_project_id, bool) or not isinstance(major_project_id, int):
        raise InvalidValue("major_project_id", major_project_id, "expected a major project id (an integer)")
    found = session.get(MajorProject, major_project_id, with_for_update=for_update or None)
    if found is None:
        raise NotFound("major project", major_project_id)
    return found


def ident(row: object) -> int:
    """The id of a flushed row (typed as int, which SQLModel cannot express)."""
    value = getattr(row, "id", None)
    assert isinstance(value, int)
    return value


def label(project: MajorProject) -> str:
    return f"major project {project.id} (deal {project.deal_id}, {project.year})"

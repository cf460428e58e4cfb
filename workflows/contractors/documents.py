"""The document check of an entry application (C3, C9): pure rules over what the archive
holds about a person, before anybody spends time on training or approval.

    problems = document_problems(
        Dossier(person_type="special_worker", company_category="installation",
                certificates={"特种作业操作证(焊接)": date(2027, 5, 1)},
                insurance_until=date(2027, 1, 1), medical_check_on=date(2026, 3, 1)),
        required_kinds=["特种作业操作证(焊接)"], valid_from=date(2026, 12, 1),
        valid_until=date(2026, 12, 31))
    # [] when the person may apply; otherwise one sentence per problem

Rules: every certificate kind the category rules require for the person's type must be held
and valid through the whole entry period; work-injury insurance must cover the period; a
medical check within the last year before entry is required.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

MEDICAL_VALID: Final = timedelta(days=365)
PERSON_TYPES: Final = (
    "manager", "safety_officer", "technician", "special_worker", "worker", "driver", "other",
)  # fmt: skip
PLACES_MAX: Final = 50


@dataclass(frozen=True)
class Dossier:
    person_type: str
    company_category: str
    #: certificate kind -> expiry (None: does not expire); the latest of each kind.
    certificates: Mapping[str, date | None] = field(default_factory=dict)
    insurance_until: date | None = None
    medical_check_on: date | None = None


def document_problems(
    dossier: Dossier, required_kinds: Iterable[str], valid_from: date, valid_until: date
) -> list[str]:
    """One sentence per missing or insufficient document (English; the UI translates kinds)."""
    problems: list[str] = []
    for kind in sorted(set(required_kinds)):
        if kind not in dossier.certificates:
            problems.append(
                f"certificate {kind} is required for {dossier.person_type} of"
                f" {dossier.company_category} contractors"
            )
            continue
        expires = dossier.certificates[kind]
        if expires is not None and expires < valid_until:
            problems.append(
                f"certificate {kind} expires {expires.isoformat()}, before the entry period"
                f" ends ({valid_until.isoformat()})"
            )
    if dossier.insurance_until is None:
        problems.append("no insurance recorded")
    elif dossier.insurance_until < valid_until:
        problems.append(
            f"insurance ends {dossier.insurance_until.isoformat()}, before the entry period ends"
        )
    if dossier.medical_check_on is None:
        problems.append("no medical check recorded")
    elif dossier.medical_check_on < valid_from - MEDICAL_VALID:
        problems.append(
            f"the medical check of {dossier.medical_check_on.isoformat()} is over a year old"
        )
    return problems


def period_problems(
    valid_from: date, valid_until: date, today: date, max_days: int = 366
) -> list[str]:
    if valid_from > valid_until:
        return ["the entry period ends before it starts"]
    out = []
    if valid_until < today:
        out.append("the entry period is over already")
    if (valid_until - valid_from).days >= max_days:
        out.append(f"an entry period is at most {max_days} days")
    return out


def clean_places(places: Iterable[str]) -> list[str]:
    """Distinct, stripped, in the order given; ValueError when none or too many."""
    out = list(dict.fromkeys(p.strip() for p in places if p and p.strip()))
    if not out:
        raise ValueError("name at least one place (area, unit or gate) the person may enter")
    if len(out) > PLACES_MAX:
        raise ValueError(f"at most {PLACES_MAX} places, not {len(out)}")
    return out

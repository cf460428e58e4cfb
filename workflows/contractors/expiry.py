"""Reminders of expiring contractor documents (C1 qualifications, C3 certificates, C4
inspections) through the workflows reminder engine: the host's ``contractor_mgmt`` group and
the company's own contractor accounts are told.

    import workflows.contractors.expiry  # registers the three sources; the scheduler scans them
"""

from __future__ import annotations

from typing import Final

from workflows.reminders import register_source

_WHO: Final = """
       ARRAY(SELECT a.id FROM auth.app_user a
             WHERE a.contractor_company_id = c.id AND a.active) AS users,
       ARRAY(SELECT g.id FROM workflow.user_group g
             WHERE g.enterprise_id = c.enterprise_id AND g.code = 'contractor_mgmt') AS groups
"""

QUALIFICATION_SQL: Final = (
    """SELECT q.id::text AS item_id, c.name || ' ' || q.kind AS title,
       q.expires_on, c.enterprise_id,"""
    + _WHO
    + """FROM contractor.qualification q JOIN contractor.company c ON c.id = q.company_id
WHERE q.expires_on <= %(until)s AND c.status = 'active'
ORDER BY q.expires_on, q.id"""
)

CERTIFICATE_SQL: Final = (
    """SELECT x.id::text || ':' || c.id AS item_id,
       c.name || ' ' || p.name || ' ' || x.kind AS title, x.expires_on, c.enterprise_id,"""
    + _WHO
    + """FROM contractor.certificate x
JOIN contractor.person p ON p.id = x.person_id
JOIN contractor.employment e ON e.person_id = p.id AND e.status = 'active'
JOIN contractor.company c ON c.id = e.company_id
WHERE x.expires_on <= %(until)s
ORDER BY x.expires_on, x.id"""
)

INSPECTION_SQL: Final = (
    """SELECT t.id::text AS item_id, c.name || ' ' || t.name AS title,
       t.inspection_due AS expires_on, c.enterprise_id,"""
    + _WHO
    + """FROM contractor.equipment t JOIN contractor.company c ON c.id = t.company_id
WHERE t.inspection_due <= %(until)s AND t.status = 'in_use'
ORDER BY t.inspection_due, t.id"""
)

register_source(
    "contractor.qualification",
    title={"zh": "承包商资质到期", "en": "Contractor qualification expiry"},
    query=QUALIFICATION_SQL,
    days_ahead=30,
    period_days=7,
    link="/contractors/archive?r=contractor_qualification",
)
register_source(
    "contractor.certificate",
    title={"zh": "承包商人员证书到期", "en": "Contractor certificate expiry"},
    query=CERTIFICATE_SQL,
    days_ahead=30,
    period_days=7,
    link="/contractors/people",
)
register_source(
    "contractor.inspection",
    title={"zh": "承包商设备检验到期", "en": "Contractor equipment inspection due"},
    query=INSPECTION_SQL,
    days_ahead=30,
    period_days=7,
    link="/contractors/archive?r=contractor_equipment",
)

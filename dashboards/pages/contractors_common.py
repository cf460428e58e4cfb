"""Helpers shared by the contractor pages: strings, the signed-in contractor's company,
status labels (the settings home is ``auth.app_home()``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash

from dashboards import auth, i18n
from hazwatch.registers import Actor

STATUS = {
    "training": ("待考试", "exam due"),
    "returned": ("已退回", "returned"),
    "in_approval": ("审批中", "in approval"),
    "pending": ("审批中", "in approval"),
    "approved": ("已批准·已发卡", "approved, card issued"),
    "rejected": ("已驳回", "rejected"),
    "withdrawn": ("已撤回", "withdrawn"),
}
PERSON_TYPES = {
    "worker": ("作业人员", "worker"),
    "special_worker": ("特种作业人员", "special worker"),
    "technician": ("技术人员", "technician"),
    "safety_officer": ("安全员", "safety officer"),
    "manager": ("项目负责人", "manager"),
    "driver": ("驾驶员", "driver"),
    "other": ("其他", "other"),
}
EQUIPMENT_KINDS = {
    "machinery": ("施工机械", "machinery"),
    "tool": ("工器具", "tool"),
    "part": ("配件", "part"),
    "ppe": ("个人防护装备", "PPE"),
    "inspection_device": ("检测设备", "inspection device"),
    "material": ("物料", "material"),
}

i18n.register(
    {f"cx.status.{k}": {"zh": zh, "en": en} for k, (zh, en) in STATUS.items()}
    | {f"cx.ptype.{k}": {"zh": zh, "en": en} for k, (zh, en) in PERSON_TYPES.items()}
    | {f"cx.ekind.{k}": {"zh": zh, "en": en} for k, (zh, en) in EQUIPMENT_KINDS.items()}
)


def contractor() -> tuple[Any, Actor, int]:
    """The signed-in contractor, its actor and company; PreventUpdate for anybody else."""
    user = auth.current_user()
    if user is None or user.role != "contractor" or user.contractor_company_id is None:
        raise dash.exceptions.PreventUpdate
    return user, Actor(user.id, user.name), int(user.contractor_company_id)


def parse_date(text: str | None, field: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise ValueError(i18n.t("cx.err.date", field=field, value=text)) from None


i18n.register(
    {
        "cx.err.date": {
            "zh": "{field}：“{value}”不是日期（YYYY-MM-DD）",
            "en": "{field}: {value!s} is not a date (YYYY-MM-DD)",
        },
        "cx.refused": {"zh": "未通过：{error}", "en": "Refused: {error}"},
    }
)

"""Strings of the web UI: Simplified Chinese by default, English on request (kept in the session).

    t("nav.overview")              # "总览" (or "Overview" when the session says "en")
    t("overview.count", n=3)       # placeholders use str.format
    fmt_datetime(ts)               # "2026-11-22 17:07" in Asia/Shanghai, per locale

Every key exists in both languages (``tests/dashboards/test_web_ui.py`` checks it).
Pages of later issues add their strings with ``register({...})``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

LANGS: Final = ("zh", "en")
DEFAULT_LANG: Final = "zh"
#: Plants and regulators work in China Standard Time whatever the server's zone is.
DISPLAY_TZ: Final = ZoneInfo("Asia/Shanghai")

STRINGS: dict[str, dict[str, str]] = {
    "site.name": {"zh": "危化品安全监测平台", "en": "hazwatch safety platform"},
    "site.tagline": {
        "zh": "危险化学品企业安全风险智能化管控",
        "en": "Safety risk monitoring for hazardous-chemical plants",
    },
    "lang.switch": {"zh": "English", "en": "中文"},
    "lang.label": {"zh": "语言", "en": "Language"},
    "login.title": {"zh": "登录", "en": "Sign in"},
    "login.username": {"zh": "用户名", "en": "User name"},
    "login.password": {"zh": "密码", "en": "Password"},
    "login.submit": {"zh": "登录", "en": "Sign in"},
    "login.failed": {"zh": "用户名或密码错误。", "en": "Wrong user name or password."},
    "login.locked": {
        "zh": "登录失败次数过多，该账号已在此地址锁定 15 分钟，请稍后再试。",
        "en": "Too many failed sign-ins: this account is locked from this address for "
        "15 minutes. Try again later.",
    },
    "nav.overview": {"zh": "总览", "en": "Overview"},
    "nav.audit": {"zh": "审计日志", "en": "Audit log"},
    "nav.menu": {"zh": "菜单", "en": "Menu"},
    "top.logout": {"zh": "退出", "en": "Sign out"},
    "role.admin": {"zh": "管理员", "en": "Administrator"},
    "role.engineer": {"zh": "工程师", "en": "Engineer"},
    "role.operator": {"zh": "操作员", "en": "Operator"},
    "role.contractor": {"zh": "承包商", "en": "Contractor"},
    "role.regulator": {"zh": "监管人员", "en": "Regulator"},
    "scope.all": {"zh": "全部企业", "en": "All enterprises"},
    "overview.title": {"zh": "企业总览", "en": "Enterprise overview"},
    "overview.count": {"zh": "共 {n} 家企业", "en": "{n} enterprises"},
    "overview.enterprise": {"zh": "企业", "en": "Enterprise"},
    "overview.region": {"zh": "所属地区", "en": "Region"},
    "overview.tags": {"zh": "测点数", "en": "Tags"},
    "overview.last_sample": {"zh": "最新数据时间", "en": "Last sample"},
    "overview.devices": {"zh": "设备在线", "en": "Devices online"},
    "overview.alarms": {"zh": "未恢复报警", "en": "Open alarms"},
    "overview.none": {"zh": "无数据", "en": "no data"},
    "overview.empty": {"zh": "当前范围内没有企业。", "en": "No enterprises in your scope."},
    "overview.stat.enterprises": {"zh": "企业", "en": "Enterprises"},
    "overview.stat.fresh": {"zh": "数据正常(15分钟内)", "en": "Fresh data (< 15 min)"},
    "overview.stat.devices": {"zh": "设备在线", "en": "Devices online"},
    "overview.stat.alarms": {"zh": "未恢复报警", "en": "Open alarms"},
    "audit.title": {"zh": "审计日志", "en": "Audit log"},
    "audit.entity": {"zh": "对象类型", "en": "Entity"},
    "audit.actor": {"zh": "操作人", "en": "Actor"},
    "audit.all": {"zh": "全部", "en": "All"},
    "audit.at": {"zh": "时间", "en": "Time"},
    "audit.action": {"zh": "操作", "en": "Action"},
    "audit.entity_id": {"zh": "对象编号", "en": "Entity id"},
    "audit.reason": {"zh": "原因", "en": "Reason"},
    "audit.detail": {"zh": "详情", "en": "Detail"},
    "audit.prev": {"zh": "上一页", "en": "Previous"},
    "audit.next": {"zh": "下一页", "en": "Next"},
    "audit.page": {"zh": "第 {page} 页，共 {total} 条", "en": "Page {page}, {total} entries"},
    "forbidden.title": {"zh": "无权访问", "en": "Not allowed"},
    "forbidden.text": {
        "zh": "您的角色无权查看此页面。",
        "en": "Your role may not open this page.",
    },
    "notfound.title": {"zh": "页面不存在", "en": "Page not found"},
    "notfound.back": {"zh": "返回总览", "en": "Back to the overview"},
}


def register(strings: dict[str, dict[str, str]]) -> None:
    """Add strings of a page (both languages required)."""
    for key, values in strings.items():
        missing = set(LANGS) - set(values)
        if missing:
            raise ValueError(f"string {key!r} lacks {sorted(missing)}")
    STRINGS.update(strings)


def current_lang() -> str:
    """The session's language (outside a request: the default)."""
    from flask import has_request_context, session

    if has_request_context():
        lang = session.get("lang")
        if lang in LANGS:
            return str(lang)
    return DEFAULT_LANG


def t(key: str, lang: str | None = None, **values: object) -> str:
    text = STRINGS[key][lang or current_lang()]
    return text.format(**values) if values else text


def fmt_datetime(value: datetime | None, lang: str | None = None, seconds: bool = False) -> str:
    """China Standard Time; Chinese ``2026年11月22日 17:07``, English ``2026-11-22 17:07``."""
    if value is None:
        return t("overview.none", lang)
    local = value.astimezone(DISPLAY_TZ)
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    if (lang or current_lang()) == "zh":
        return f"{local.year}年{local.month}月{local.day}日 {clock}"
    return f"{local:%Y-%m-%d} {clock}"


def fmt_number(value: float | int | None, lang: str | None = None, digits: int = 0) -> str:
    """Thousands separated with commas in both locales (the Chinese convention too)."""
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"

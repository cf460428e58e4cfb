"""The Dash UI, mounted on the web server's Flask app at ``/`` (one port for UI and APIs).

    app = create_server(settings)          # dashboards.server: write API, /health
    dash_app = create_dash(app, settings)  # sign-in, pages, assets
    # later issues: a module in dashboards/pages/ with register(dash_app) and a NAV entry

Pages are Dash pages registered explicitly (``PAGES``), not discovered from a folder, so the
import order is fixed and a page's callbacks belong to this app (``dash_app.callback``).
"""

from __future__ import annotations

import html as html_lib
from pathlib import Path
from types import ModuleType
from typing import Any

import dash
from flask import Flask

from dashboards import auth, i18n, layout
from dashboards.pages import (
    alarm_analysis,
    alarm_audit,
    alarm_kpis,
    alarm_ledger,
    alarm_record,
    alert_calendars,
    alert_channels,
    alert_policies,
    alert_prefs,
    alert_rules,
    alerts,
    approvals,
    audit,
    contractor_ops,
    contractor_ops_eval,
    contractor_ops_lists,
    contractor_ops_work,
    contractors_archive,
    contractors_exam,
    contractors_self,
    contractors_training,
    dashboard_edit,
    dashboard_list,
    dashboard_view,
    hazard_units,
    not_found_404,
    overview,
    pumps,
    pumps_alarms,
    pumps_cases,
    pumps_detail,
    pumps_health,
    pumps_reports,
    pumps_strategies,
    regional,
    regional_contractors,
    regional_reports,
    registers,
    tag_detail,
    video_alarm,
    video_alarms,
    video_config,
    video_stats,
    video_wall,
    video_zones,
)
from hazwatch.settings import Settings

ASSETS = Path(__file__).parent / "assets"
#: Page modules, each with ``register(dash_app)``; the order is the navigation's.
PAGES: tuple[ModuleType, ...] = (
    overview,
    alerts,
    alert_rules,
    alert_policies,
    alert_calendars,
    alert_channels,
    alert_prefs,
    dashboard_list,
    dashboard_view,
    dashboard_edit,
    tag_detail,
    registers,
    approvals,
    contractors_self,
    contractors_exam,
    contractors_archive,
    contractors_training,
    contractor_ops,
    contractor_ops_work,
    contractor_ops_eval,
    contractor_ops_lists,
    regional,
    regional_reports,
    regional_contractors,
    hazard_units,
    alarm_kpis,
    alarm_analysis,
    alarm_ledger,
    alarm_audit,
    alarm_record,
    pumps,
    pumps_detail,
    pumps_alarms,
    pumps_health,
    pumps_cases,
    pumps_reports,
    pumps_strategies,
    video_wall,
    video_alarms,
    video_alarm,
    video_stats,
    video_config,
    video_zones,
    audit,
    not_found_404,
)
EXTENSION = "hazwatch.dash"


class HazwatchDash(dash.Dash):  # type: ignore[misc]
    """Dash whose index carries the session's CSRF token for ``assets/csrf.js``."""

    def interpolate_index(self, **kwargs: Any) -> str:
        token = html_lib.escape(auth.csrf_token())
        lang = "zh-CN" if i18n.current_lang() == "zh" else "en"
        kwargs["metas"] = f'<meta name="csrf-token" content="{token}">\n' + kwargs.get("metas", "")
        page = str(super().interpolate_index(**kwargs))
        return page.replace("<html>", f'<html lang="{lang}">', 1)


def create_dash(server: Flask, settings: Settings) -> dash.Dash:
    """Mount the UI on ``server``: sign-in and guards first, then the Dash app at ``/``."""
    auth.install(server, settings)
    app = HazwatchDash(
        "dashboards.app",
        server=server,
        url_base_pathname="/",
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        title=i18n.t("site.name", "zh"),
        suppress_callback_exceptions=True,  # page layouts are built per request, per user
        update_title=None,
        serve_locally=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    for page in PAGES:
        page.register(app)
    app.layout = layout.shell
    layout.register_callbacks(app)
    server.extensions[EXTENSION] = app
    return app

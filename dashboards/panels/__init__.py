"""Grafana-style dashboards (D1): definitions (``spec``), rollup choice (``source``), scoped
queries (``queries``), figures (``figures``), panel drawing (``render``), saved dashboards
(``store``) and the platform's default dashboards (``defaults``)."""

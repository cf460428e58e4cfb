"""REST endpoints mounted on the web server (``/api/...``); each module has a blueprint."""

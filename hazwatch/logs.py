"""Process-wide logging set up once per process from ``settings.log``.

setup_logging(settings.log, process="collector-opcua")
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from hazwatch.settings import LogSettings

NOISY_LIBRARIES = ("asyncua", "pymodbus", "paho", "urllib3", "waitress")


class JsonLines(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "process": self.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(cfg: LogSettings, process: str = "hazwatch") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if cfg.json_lines:
        handler.setFormatter(JsonLines(process))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)-7s {process} %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(cfg.level)
    # Protocol libraries narrate every packet at INFO; their warnings still come through.
    for noisy in NOISY_LIBRARIES:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

"""Logs the host understands (PW-LOG-2): one hclog-style JSON object per
line on stderr, with the record's extra fields attached.

>>> import logging
>>> record = logging.LogRecord("p", logging.WARNING, "", 0, "disk %s", ("full",), None)
>>> record.created = 0.0
>>> HclogFormatter().format(record)
'{"@level": "warn", "@message": "disk full", "@timestamp": "1970-01-01T00:00:00.000000Z", "@module": "p"}'
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}
# Attributes every LogRecord has; anything else was passed as `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class HclogFormatter(logging.Formatter):
    """Formats a record as one hclog JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        level = _LEVELS.get(record.levelno, "trace" if record.levelno < logging.DEBUG else "error")
        line: dict[str, object] = {
            "@level": level,
            "@message": record.getMessage(),
            "@timestamp": datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "@module": record.name,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def install(level: int = logging.INFO) -> None:
    """Sends the root logger's records to stderr as hclog lines; `serve()`
    calls it, so `logging.getLogger(__name__).info(...)` just works."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(HclogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # grpc's own chatter is not the plugin's.
    logging.getLogger("grpc").setLevel(logging.WARNING)

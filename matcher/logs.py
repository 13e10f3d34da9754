"""One logging set-up for every entry point: key=value lines, or JSON lines with ``PILOTMATCH_LOG_FORMAT=json``."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


_NEEDS_QUOTES = re.compile(r'[\s"=\\]|[^\x20-\x7e\u00a0-\uffff]')


def _value(value: object) -> str:
    """A field's value as one token: quoted and escaped (JSON) when it holds spaces, quotes, ``=`` or control
    characters, so a request path or id a client chose cannot forge fields or a second log line."""
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if not text or _NEEDS_QUOTES.search(text) else text


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        extra = " ".join(f"{k}={_value(v)}" for k, v in getattr(record, "fields", {}).items())
        line = f"{ts} {record.levelname.lower()} {record.name} {record.getMessage()}"
        if extra:
            line = f"{line} {extra}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger("pilotmatch")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False

"""Structured logging: one JSON object per line, with secrets masked.

Any key or `key=value` that looks like a password, secret or token is replaced before the
record is written, so a log never carries a credential.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

_SECRET_KEYS = ("password", "secret", "token", "x-auth-token", "x-subject-token", "auth_token")
_SECRET_PATTERN = re.compile(
    r"""(?i)(["']?(?:[a-z_-]*password|[a-z_-]*secret|x-auth-token|x-subject-token|auth_token|token)["']?\s*[:=]\s*)(["']?)[^"'\s,}]+(["']?)"""
)


def mask(text: str) -> str:
    """Mask the values of secret-looking keys in free text."""
    return _SECRET_PATTERN.sub(r"\1\2***\3", text)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("***" if any(s in str(k).lower() for s in _SECRET_KEYS) else _scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, str):
        return mask(value)
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(_scrub(extra))
        if record.exc_info:
            entry["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx and httpcore log each request at INFO: one line per call between services.
    for noisy in (
        "uvicorn.access",
        "aiosqlite",
        "alembic.runtime.migration",
        "alembic.runtime.plugins",
        "httpx",
        "httpcore",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get(name: str) -> logging.Logger:
    return logging.getLogger(name)

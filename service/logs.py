"""Logging for the service: the access log shows paths, never query strings.

uvicorn's access log line is ``client - "METHOD /path?query HTTP/1.1" status``. A query string may
carry patient data (``?patient=…``, ``?question=…``), so `PathOnly` rewrites the path argument
to the path alone before the line is formatted. Paths themselves hold only the service's own
ids (``/cases/<uuid>``). The service's own loggers (`medboard.service.*`) never log a body, a
token, a claim or an error's text — only case ids, states, counts and timings.
"""

from __future__ import annotations

import logging
from typing import Any

ACCESS_LOGGER = "uvicorn.access"


class PathOnly(logging.Filter):
    """Drops the query string from uvicorn's access-log record (its third argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def install_access_filter() -> None:
    """Add `PathOnly` to uvicorn's access logger (once)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, PathOnly) for f in logger.filters):
        logger.addFilter(PathOnly())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging config with the `PathOnly` filter on the access handler, and
    medboard's service loggers at INFO beside it."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {
        **LOGGING_CONFIG,
        "filters": {"path_only": {"()": PathOnly}},
        "handlers": {name: dict(handler) for name, handler in LOGGING_CONFIG["handlers"].items()},
        "loggers": {name: dict(logger) for name, logger in LOGGING_CONFIG["loggers"].items()},
    }
    config["handlers"]["access"]["filters"] = ["path_only"]
    config["loggers"]["medboard"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config

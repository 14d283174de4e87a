"""The library's logging: silent until the application asks, structured when it does.

Every module logs through ``log = get_logger(__name__)``: events are snake_case facts with
key/value fields, and ``log.bind(cluster=..., distributor_id=...)`` binds ids once. Where they
go is the application's choice:

* an application that configured **structlog** (``structlog.configure``) gets them through its
  own processors, fields and bound ids as they are;
* otherwise they go to the standard library's ``logging``, under the ``distributor`` logger
  and its children (a plugin's modules under ``distributor.<module>``, e.g.
  ``distributor.distributor_slurm.client``), as ``event key=value ...`` messages whose
  records also carry the fields as ``record.distributor`` (a dict, for structured handlers) —
  and ``distributor`` has only a `logging.NullHandler`, so nothing appears unless the
  application configures ``logging`` (``logging.basicConfig(level=logging.INFO)`` shows them
  on stderr).

Nothing here imports structlog, nor ``logging`` before the first event: ``import distributor``
stays fast, and structlog is asked only if the application imported it itself.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

__all__ = ["Logger", "get_logger"]

# logging's levels, without importing it
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "exception": 40}
_silenced = False


def _stdlib_logger(name: str) -> logging.Logger:
    """The standard library's logger `name`, the ``distributor`` logger given its
    `logging.NullHandler` first (else Python's last-resort handler would print warnings)."""
    import logging

    global _silenced
    if not _silenced:
        logging.getLogger("distributor").addHandler(logging.NullHandler())
        _silenced = True
    return logging.getLogger(name)


def _render(event: str, fields: dict[str, Any]) -> str:
    return " ".join([event, *(f"{key}={value!r}" for key, value in fields.items())])


class Logger:
    """A logger with bound fields (see the module docstring); cheap to create and bind."""

    __slots__ = ("_context", "_name")

    def __init__(self, name: str, context: dict[str, Any] | None = None) -> None:
        self._name = name
        self._context = context or {}

    def bind(self, **fields: Any) -> Logger:
        """A logger that adds `fields` to every event."""
        return Logger(self._name, {**self._context, **fields})

    def _emit(self, method: str, event: str, fields: dict[str, Any]) -> None:
        structlog = sys.modules.get("structlog")
        if structlog is not None and structlog.is_configured():
            bound = structlog.get_logger(self._name).bind(**self._context)
            getattr(bound, method)(event, **fields)
            return
        logger = _stdlib_logger(self._name)
        level = _LEVELS[method]
        if logger.isEnabledFor(level):
            merged = {**self._context, **fields}
            logger.log(
                level,
                "%s",
                _render(event, merged),
                extra={"distributor": {"event": event, **merged}},
                exc_info=method == "exception",
                stacklevel=3,
            )

    def debug(self, event: str, **fields: Any) -> None:
        """Log a detail worth seeing only when looking into a problem."""
        self._emit("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        """Log a normal fact (a job submitted, a task ended)."""
        self._emit("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        """Log something unexpected that the library worked around."""
        self._emit("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        """Log something that went wrong and was not worked around."""
        self._emit("error", event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """`error`, with the exception being handled."""
        self._emit("exception", event, fields)


def get_logger(name: str) -> Logger:
    """The logger for module `name` (``log = get_logger(__name__)``); a module outside the
    ``distributor`` package (a plugin's) logs under ``distributor.<name>``."""
    if name != "distributor" and not name.startswith("distributor."):
        name = f"distributor.{name}"
    return Logger(name)

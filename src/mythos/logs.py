"""structlog, one event a line (key=value, or JSON), written by a thread behind a queue so a slow
terminal or disk never holds the event loop."""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
from pathlib import Path

import structlog

_listener: logging.handlers.QueueListener | None = None


class _Handoff(logging.handlers.QueueHandler):
    """Hands the record over untouched: structlog's formatter, in the writer thread, needs the
    event dict that ``QueueHandler.prepare`` would flatten to a string."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # ``log.exception`` leaves exc_info=True, which the writer thread would resolve to its
        # own (empty) sys.exc_info(): capture the exception here; it is formatted there.
        if isinstance(record.msg, dict) and record.msg.get("exc_info") is True:
            record.msg["exc_info"] = sys.exc_info()
        return record


def configure(level: str = "INFO", fmt: str = "console", file: Path | None = None) -> None:
    """Route structlog and stdlib logging through a queue to one writer thread: standard error,
    or ``file`` when given."""
    global _listener
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer = (structlog.processors.JSONRenderer() if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer])
    out: logging.Handler = (logging.FileHandler(file, encoding="utf-8") if file is not None
                            else logging.StreamHandler(sys.stderr))
    out.setFormatter(formatter)
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(_Handoff(q))
    root.setLevel(level.upper())
    for noisy in ("telnetlib3", "aiohttp.access", "alembic", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    if _listener is not None:
        _listener.stop()
    _listener = logging.handlers.QueueListener(q, out, respect_handler_level=True)
    _listener.start()
    atexit.register(stop)


def stop() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None

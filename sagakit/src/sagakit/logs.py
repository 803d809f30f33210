"""structlog setup: JSON lines when not on a terminal, coloured console when on one."""

from __future__ import annotations

import importlib.util
import logging
import sys

import structlog


def _console_renderer() -> structlog.dev.ConsoleRenderer:
    # Tracebacks without local variables: rendering every frame's locals (rich's default) took
    # most of a second on the event loop for a handler's failure, and could print secrets.
    colors = sys.stderr.isatty()
    formatter: structlog.typing.ExceptionRenderer = structlog.dev.plain_traceback
    if importlib.util.find_spec("rich") is not None:
        formatter = structlog.dev.RichTracebackFormatter(show_locals=False)
    return structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=formatter)


def configure_logging(*, json: bool | None = None, level: str = "INFO") -> None:
    """Configure structlog once per process. `json=None` picks JSON unless stderr is a TTY."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if use_json else _console_renderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


def describe(exc: BaseException | None) -> str:
    """`ExceptionType: message` (redis-py 8's repr drops the message)."""
    if exc is None:
        return ""
    return f"{type(exc).__name__}: {exc}"

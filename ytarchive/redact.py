"""Secrets out of text and log records: registered secret values and every `key=` URL parameter."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from pydantic import SecretStr

__all__ = [
    "MASK",
    "RedactFilter",
    "redact",
    "redact_loggers",
    "register_secret",
    "register_secrets",
]

MASK = "***"
# A `key=` query parameter (the Data API key in every request URL googleapiclient logs).
_KEY_PARAM = re.compile(r"([?&;]key=)[^&\s'\"#]+")
_MIN_SECRET = 4  # shorter values would mask ordinary words
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | SecretStr | None) -> None:
    """Mask this value wherever redact() sees it from now on (API keys, tokens, cookie values)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value and len(value) >= _MIN_SECRET:
        with _lock:
            _secrets.add(value)


def register_secrets(settings: Any) -> None:
    """Register every SecretStr field of a Settings object (the API key, and any added later)."""
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            register_secret(value)


def redact(text: str) -> str:
    """The text with every registered secret and every `key=` query value replaced by ***."""
    text = _KEY_PARAM.sub(rf"\1{MASK}", text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)  # longest first: no partial leftovers
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class RedactFilter(logging.Filter):
    """Rewrites each record (message, arguments, traceback) through redact() before output."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: drop its arguments rather than risk a secret
            message = str(record.msg)
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactFilter()


def redact_loggers(*names: str) -> RedactFilter:
    """Filter the records logged to these loggers (idempotent); returns the one shared filter."""
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    return _FILTER

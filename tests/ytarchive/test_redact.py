"""One redaction: registered secrets and `key=` parameters, in text and in log records."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from ytarchive.config import Settings
from ytarchive.redact import RedactFilter, redact, redact_loggers, register_secret, register_secrets


def test_key_parameters_are_masked_and_other_parameters_kept() -> None:
    out = redact("GET http://h/v3/videos?part=snippet&key=AIzaSyANY&alt=json")
    assert out == "GET http://h/v3/videos?part=snippet&key=***&alt=json"


def test_registered_secrets_are_masked_anywhere() -> None:
    register_secret(SecretStr("cookie-value-123"))
    register_secret("")  # nothing to register
    assert redact("Cookie: SID=cookie-value-123; x") == "Cookie: SID=***; x"


def test_every_secret_field_of_settings_is_registered() -> None:
    register_secrets(Settings(youtube_api_key=SecretStr("AIzaSySETTINGSKEY")))
    assert "AIzaSySETTINGSKEY" not in redact("the key AIzaSySETTINGSKEY was rejected")


def test_the_filter_masks_messages_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    register_secret("AIzaSyTRACEBACK")
    logger = logging.getLogger("tests.redact")
    redact_loggers("tests.redact")
    redact_loggers("tests.redact")  # idempotent
    assert sum(isinstance(f, RedactFilter) for f in logger.filters) == 1
    caplog.set_level(logging.INFO, logger="tests.redact")
    try:
        raise ValueError("bad key AIzaSyTRACEBACK")
    except ValueError:
        logger.exception("calling %s", "http://h/?key=AIzaSyTRACEBACK")
    assert "AIzaSyTRACEBACK" not in caplog.text
    assert "calling http://h/?key=***" in caplog.text and "ValueError: bad key ***" in caplog.text


def test_the_cli_error_line_is_redacted_last_of_all(capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever an error's text carries (a URL with its key, a registered secret), the one line
    the command prints has neither."""
    from ytarchive.cli import _fail

    register_secret(SecretStr("cookie-value-456"))
    with pytest.raises(SystemExit) as exit_:
        _fail("HTTP 403 for https://h/v3/videos?key=AIzaSyLEAK (cookie-value-456)\nmore", 2)
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "Error: HTTP 403 for https://h/v3/videos?key=*** (***)\n"

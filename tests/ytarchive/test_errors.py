"""The error tree is short, documented, and carries the exit codes the CLI uses."""

from __future__ import annotations

import ytarchive.errors as errors


def test_every_error_has_a_one_line_docstring_and_one_base() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert cls.__doc__ and "\n" not in cls.__doc__.strip(), name
        assert issubclass(cls, errors.YTArchiveError)


def test_exit_codes() -> None:
    assert errors.InputError("x").exit_code == 2
    assert errors.Transient("x").exit_code == 1
    assert errors.Transient("slow down", retry_after=3).retry_after == 3

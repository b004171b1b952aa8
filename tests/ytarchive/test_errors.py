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


def test_all_names_every_error_class() -> None:
    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.YTArchiveError)
    }
    assert defined == set(errors.__all__)


def test_existing_families_keep_their_members() -> None:
    for cls in (
        errors.Private,
        errors.RemovedByUploader,
        errors.RemovedForCopyright,
        errors.RegionBlocked,
        errors.MembersOnly,
        errors.NotFound,
    ):
        assert issubclass(cls, errors.Unavailable), cls
        assert cls("x").permanent and cls("x").status == "unavailable"
    for cls in (errors.RateLimited, errors.CdnForbidden):
        assert issubclass(cls, errors.Transient) and cls("x").site_refusal
    for cls in (errors.BotCheck, errors.AgeRestricted, errors.FormatUnavailable):
        assert issubclass(cls, errors.DownloadFailed) and cls("x").status == "failed"


def test_what_each_class_means_for_a_run() -> None:
    assert errors.BotCheck("x").site_refusal and not errors.BotCheck("x").permanent
    assert not errors.AgeRestricted("x").site_refusal
    assert not issubclass(errors.AgeRestricted, errors.Unavailable)
    # not yet: neither final (unavailable) nor a failure for a recovery plan; a later run takes it
    for cls, status in ((errors.Upcoming, "upcoming"), (errors.LiveNow, "live")):
        assert issubclass(cls, errors.NotYet)
        assert not issubclass(cls, errors.Unavailable | errors.Transient | errors.DownloadFailed)
        assert not cls("x").permanent and cls("x").status == status
    assert errors.Braked("x").status == "failed" and not errors.Braked("x").site_refusal
    assert errors.RateLimited("x", retry_after=5).retry_after == 5
    assert errors.RegionBlocked("x", ["DE"]).countries == ["DE"]
    assert errors.Upcoming("x", 1767225600).release_timestamp == 1767225600


def test_reason_is_the_message_then_what_to_do() -> None:
    error = errors.BotCheck("Sign in to confirm you’re not a bot")
    assert error.reason == (
        "Sign in to confirm you’re not a bot; set YTARCHIVE_COOKIES_FILE (or pass --cookies FILE)"
        " to a signed-in cookies.txt"
    )
    assert error.error_class == "BotCheck"
    assert errors.Transient("timed out").reason == "timed out"  # nothing to advise
    assert errors.RemovedByUploader("").reason == "The uploader deleted the video."


def test_every_youtube_class_that_a_user_can_act_on_says_how() -> None:
    for cls in (
        errors.BotCheck,
        errors.AgeRestricted,
        errors.MembersOnly,
        errors.Private,
        errors.RegionBlocked,
        errors.Upcoming,
        errors.LiveNow,
        errors.RateLimited,
        errors.CdnForbidden,
    ):
        error = cls("x")
        assert error.advice and "\n" not in error.reason, cls
    asked = errors.FormatUnavailable("x", quality="1080p", offered=["720p"])
    assert "720p" in asked.advice

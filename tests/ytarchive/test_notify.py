"""Notifications: what is said about a run, and real Apprise json:// to a loopback receiver."""

from __future__ import annotations

from pydantic import SecretStr

from tests.web.conftest import Receiver
from ytarchive.config import Settings
from ytarchive.notify import RunEnd, messages, notify_run_end, urls_of

RUN = "3f2a9c1e-0000-4000-8000-000000000001"


def test_a_run_with_new_videos_says_how_many_and_names_them() -> None:
    end = RunEnd(RUN, "videos-abc", failed=False, new_titles=["Owls", "Bats"])
    (message,) = messages(end)
    assert message.kind == "archived" and "2 new video(s)" in message.title
    assert "- Owls\n- Bats" in message.body


def test_a_failed_run_names_its_plan_and_a_quiet_run_says_nothing() -> None:
    end = RunEnd(RUN, "videos-abc", failed=True, failed_videos=["abc (Owls)"], message="1 failed")
    (message,) = messages(end)
    assert message.kind == "failed" and RUN[:8] in message.title
    assert f"Recovery plan {RUN}" in message.body and "abc (Owls)" in message.body
    assert messages(RunEnd(RUN, "videos-abc", failed=False)) == []


def test_urls_are_split_on_spaces_and_commas() -> None:
    assert urls_of(" json://a/ ,mailto://b  tgram://c ") == ["json://a/", "mailto://b", "tgram://c"]
    assert urls_of(None) == []


def test_apprise_delivers_to_a_json_receiver_and_a_dead_url_does_not_raise(closed_port) -> None:
    receiver = Receiver()
    try:
        settings = Settings(notify=SecretStr(receiver.url))
        end = RunEnd(RUN, "videos-abc", failed=True, new_titles=["Owls"], message="boom")
        assert notify_run_end(settings, end) == 2
        assert [b["type"] for b in receiver.bodies] == ["info", "failure"]
        assert receiver.bodies[1]["title"].endswith(f"(plan {RUN[:8]})")
        dead = Settings(notify=SecretStr(f"json://127.0.0.1:{closed_port.port}/"))
        assert notify_run_end(dead, end) == 0
    finally:
        receiver.close()

"""Notifications through Apprise (YTARCHIVE_NOTIFY): new videos archived, a run that failed."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunEnd", "Message", "messages", "notify_run_end", "send"]

logger = logging.getLogger(__name__)
MAX_TITLES = 20  # titles listed in one message; the rest are counted
_SPLIT = re.compile(r"[\s,]+")


@dataclass
class RunEnd:
    """How one archive run ended, as a notification needs it (no Prefect objects)."""

    flow_run_id: str
    flow_run_name: str
    failed: bool
    new_titles: list[str] = field(default_factory=list)  # videos this run archived
    failed_videos: list[str] = field(default_factory=list)  # ids (and titles) that failed
    message: str | None = None  # the run's final state message
    output_dir: str | None = None


@dataclass
class Message:
    """One notification: a title line and a body."""

    title: str
    body: str
    kind: str  # "archived" or "failed" (Apprise's notify type: success or failure)


def messages(end: RunEnd) -> list[Message]:
    """What to say about a run: one message if it archived new videos, one if it failed."""
    out = []
    if end.new_titles:
        count = len(end.new_titles)
        shown = [f"- {t}" for t in end.new_titles[:MAX_TITLES]]
        if count > MAX_TITLES:
            shown.append(f"... and {count - MAX_TITLES} more")
        where = f" into {end.output_dir}" if end.output_dir else ""
        body = f"Run {end.flow_run_name} archived {count} new video(s){where}:\n" + "\n".join(shown)
        out.append(Message(f"YTArchive: {count} new video(s) archived", body, "archived"))
    if end.failed:
        lines = [f"Run {end.flow_run_name} failed: {end.message or 'see the Prefect UI'}"]
        if end.failed_videos:
            lines.append("Failed: " + ", ".join(end.failed_videos[:MAX_TITLES]))
        lines.append(f"Recovery plan {end.flow_run_id}")
        lines.append(f"Retry it with: ytarchive recovery retry {end.flow_run_id[:8]}")
        title = f"YTArchive: run {end.flow_run_name} failed (plan {end.flow_run_id[:8]})"
        out.append(Message(title, "\n".join(lines), "failed"))
    return out


def urls_of(setting: str | None) -> list[str]:
    """The Apprise URLs in YTARCHIVE_NOTIFY (separated by spaces or commas)."""
    return [u for u in _SPLIT.split(setting or "") if u]


def send(urls: Sequence[str], found: Sequence[Message]) -> int:
    """Send each message to every URL; how many messages got through. Never raises: a
    notification that cannot be sent is logged (without its URL, which may hold a token)."""
    if not urls or not found:
        return 0
    import apprise

    sent = 0
    for message in found:
        hub = apprise.Apprise()
        for url in urls:
            if not hub.add(url):
                logger.warning("YTARCHIVE_NOTIFY holds a URL Apprise does not understand")
        kind = apprise.NotifyType.FAILURE if message.kind == "failed" else apprise.NotifyType.INFO
        try:
            ok = hub.notify(title=message.title, body=message.body, notify_type=kind)
        except Exception as exc:
            logger.warning("notification not sent: %s", type(exc).__name__)
            ok = False
        if ok:
            sent += 1
        else:
            logger.warning("notification %r not sent to every URL", message.title)
    return sent


def notify_run_end(settings: Any, end: RunEnd) -> int:
    """Send what there is to say about a run to the Apprise URLs in settings.notify, if any."""
    secret = settings.notify.get_secret_value() if settings.notify else ""
    return send(urls_of(secret), messages(end))

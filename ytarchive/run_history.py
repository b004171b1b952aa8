"""Our flow runs as recovery reads them, from Prefect's REST API (no prefect import).

RestHistory is recovery.History over ytarchive.prefect_api: what each of our runs was asked to
archive, who ran it and whether that process still lives, what its download task runs ended
with. flows/history.py's PrefectHistory is this reader plus the writes that use Prefect's client.
What the archive flows write for it to read (owner tags, the archive label, the items artifact)
is flows/run_context.py.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ytarchive.errors import InputError, ServerUnavailable
from ytarchive.hosts import host_name
from ytarchive.names import (
    ARCHIVE_FLOWS,
    HOST_TAG,
    ITEMS_ARTIFACT_KEY,
    PID_TAG,
    PLAN_FLOW,
    PLAYLIST_FLOW,
    ROOT_LABEL,
)
from ytarchive.prefect_api import PrefectApi, heartbeat_frequency, parse_time
from ytarchive.recovery import Item, RunRecord, TaskInfo

__all__ = [
    "HEARTBEATS_MISSED",
    "RestHistory",
    "process_alive",
    "requested_from_urls",
    "same_archive",
    "task_info",
]

HEARTBEATS_MISSED = 3  # a Running run elsewhere is dead after this many missed heartbeats
_SOURCES = [*ARCHIVE_FLOWS, PLAN_FLOW]
_CHUNK = 200  # run ids asked for in one artifact query
_RUNS = "read Prefect's flow-run history"
logger = logging.getLogger(__name__)


class RestHistory:
    """recovery.History read over Prefect's REST API; plans are recorded by PrefectHistory."""

    def __init__(
        self,
        api: PrefectApi | None = None,
        heartbeats_missed: float = HEARTBEATS_MISSED,
        frequency: Callable[[], int | None] = heartbeat_frequency,
    ) -> None:
        self._given = api
        self.heartbeats_missed = heartbeats_missed
        self.heartbeat_frequency = frequency  # seconds between heartbeats; None: they are off

    def api(self) -> PrefectApi:
        """The API read: the one given, else PREFECT_API_URL's."""
        if self._given is not None:
            return self._given
        url = os.environ.get("PREFECT_API_URL")
        if not url:
            raise ServerUnavailable(f"cannot {_RUNS}: PREFECT_API_URL is not set")
        return PrefectApi(url)

    def runs(self, root: Path) -> list[RunRecord]:
        """All runs of our flows that archive into root, with what each was asked to archive."""
        api = self.api()
        runs, flow_names = _read_flow_runs(api)
        runs = [r for r in runs if same_archive(_run_root(r), root)]
        artifacts = _read_items_artifacts(api, [r["id"] for r in runs])
        here = host_name()
        return [
            self._record(api, r, flow_names.get(r["flow_id"], ""), artifacts.get(r["id"]), here)
            for r in runs
        ]

    def task_infos(self, run_id: str) -> dict[str, TaskInfo]:
        """video_id -> its ``download-<id>`` task run in the given flow run."""
        body = {
            "flow_runs": {"id": {"any_": [str(run_id)]}},
            "task_runs": {"name": {"like_": "download-"}},
        }
        infos: dict[str, TaskInfo] = {}
        for tr in self.api().filter("task_runs", body, "read the plan's task runs"):
            if tr["name"].startswith("download-"):
                # "download-<id>", then " <title>" once the title is known
                video_id = tr["name"][len("download-") :].split(" ", 1)[0]
                infos[video_id] = task_info(tr)
        return infos

    def record_plan(
        self, root: Path, items: Sequence[Item], message: str, quality: str | None
    ) -> str:
        """Recording a plan takes Prefect's client: flows/history.py's PrefectHistory does."""
        raise NotImplementedError("record plans with flows.history.PrefectHistory")

    def mark_crashed(self, run_id: str, message: str) -> None:
        """Force the run to Crashed; when the API fails, log it: the retry itself went ahead."""
        state = {"type": "CRASHED", "name": "Crashed", "message": message}
        try:
            self.api().post(
                f"/flow_runs/{run_id}/set_state",
                {"state": state, "force": True},
                "mark the run Crashed",
            )
        except ServerUnavailable as exc:
            logger.warning("flow run %s left in state Running: %s", run_id, exc)

    def _record(
        self,
        api: PrefectApi,
        run: dict[str, Any],
        flow: str,
        artifact: list[Item] | None,
        here: str,
    ) -> RunRecord:
        params = dict(run.get("parameters") or {})
        requested = artifact
        if requested is None and flow != PLAYLIST_FLOW and isinstance(params.get("urls"), list):
            requested = requested_from_urls(params["urls"])
        state = run.get("state") or {}
        created = parse_time(run.get("created")) or parse_time(run.get("expected_start_time"))
        record = RunRecord(
            id=run["id"],
            name=run["name"],
            flow=flow,
            state=state.get("type") or "PENDING",
            message=state.get("message"),
            created=created,  # type: ignore[arg-type]  # the server always sets it
            parameters=params,
            tags=list(run.get("tags") or []),
            requested=requested,
            output_dir=_run_root(run),
        )
        if record.state == "RUNNING":
            record.alive = self._alive(api, run, here)
        return record

    def _alive(self, api: PrefectApi, run: dict[str, Any], here: str) -> bool:
        """Same host: is the pid in its tags still the process that started the run? Elsewhere
        (or untagged): has it sent a heartbeat within the last few heartbeat intervals?"""
        tags = run.get("tags") or []
        host, pid = _tag(tags, HOST_TAG), _tag(tags, PID_TAG)
        if host == here and pid and pid.isdigit():
            return process_alive(int(pid), started_by=parse_time(run.get("start_time")))
        return not self._heartbeat_stale(api, run)

    def _heartbeat_stale(self, api: PrefectApi, run: dict[str, Any]) -> bool:
        """No heartbeat event from the run for heartbeats_missed intervals (Prefect sends one
        every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds, 180 by default, from every running
        flow). When the events cannot be read, the run is not called dead (and that is logged)."""
        frequency = self.heartbeat_frequency()
        since = parse_time(run.get("start_time")) or parse_time(run.get("created"))
        if not frequency or since is None:
            return False  # heartbeats are off (or the run never started): we cannot tell
        now = datetime.now(UTC)
        body = {  # newest first, so one event is the last heartbeat
            "filter": {
                "occurred": {"since": since.isoformat(), "until": now.isoformat()},
                "event": {"name": ["prefect.flow-run.heartbeat"]},
                "resource": {"id": [f"prefect.flow-run.{run['id']}"]},
                "order": "DESC",
            },
            "limit": 1,
        }
        try:
            page = api.post("/events/filter", body, "read the run's heartbeats") or {}
        except ServerUnavailable as exc:
            logger.warning("heartbeats of flow run %s not read, taken as alive: %s", run["id"], exc)
            return False
        beats = [parse_time(e.get("occurred")) for e in page.get("events") or []]
        last = max((b for b in beats if b is not None), default=since)
        window = self.heartbeats_missed * max(int(frequency), 30)
        return now - last > timedelta(seconds=window)


def requested_from_urls(urls: Iterable[str]) -> list[Item]:
    """Items from a videos run's ``urls`` parameter: YouTube ids where the text names one, other
    sites' URLs as they are. Playlists and channels among them are left out: each runs as a
    subflow of its own, which is a plan of its own if it fails."""
    from ytarchive.refs import VideoRef, parse_ref

    items: dict[str, Item] = {}
    for text in urls:
        try:
            ref = parse_ref(str(text))
        except InputError:
            items.setdefault(str(text), Item(str(text), str(text)))
            continue
        if not isinstance(ref, VideoRef):
            continue
        if ref.video_id:
            items.setdefault(ref.video_id, Item(ref.video_id, None))
        else:
            items.setdefault(ref.url, Item(ref.url, ref.url))
    return list(items.values())


def same_archive(output_dir: str | None, root: Path) -> bool:
    """Whether a run's output_dir parameter names the archive at root."""
    if not output_dir:
        return False
    try:
        return Path(output_dir).expanduser().resolve() == Path(root).expanduser().resolve()
    except OSError:
        return False


def _run_root(run: dict[str, Any]) -> str | None:
    """The archive root the run wrote to: its label (set by the run), else its parameter."""
    label = (run.get("labels") or {}).get(ROOT_LABEL)
    return str(label) if label else (run.get("parameters") or {}).get("output_dir")


def _read_flow_runs(api: PrefectApi) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every run of the flows plans come from, and flow id -> flow name."""
    body = {"flows": {"name": {"any_": _SOURCES}}, "sort": "ID_DESC"}
    runs = api.filter("flow_runs", body, _RUNS)
    flow_ids = list(dict.fromkeys(r["flow_id"] for r in runs))
    if not flow_ids:
        return runs, {}
    found = api.filter("flows", {"flows": {"id": {"any_": flow_ids}}}, _RUNS)
    return runs, {f["id"]: f["name"] for f in found}


def _read_items_artifacts(api: PrefectApi, run_ids: list[str]) -> dict[str, list[Item]]:
    """run id -> the items its ``archive-items`` artifact lists (the newest, if several)."""
    found: dict[str, list[Item]] = {}
    for start in range(0, len(run_ids), _CHUNK):
        body = {
            "artifacts": {
                "key": {"any_": [ITEMS_ARTIFACT_KEY]},
                "flow_run_id": {"any_": run_ids[start : start + _CHUNK]},
            }
        }
        got = api.filter("artifacts", body, _RUNS)
        for art in sorted(got, key=lambda a: parse_time(a["created"]) or datetime.min):
            found[str(art["flow_run_id"])] = _artifact_items(art.get("data"))
    return found


def _artifact_items(data: Any) -> list[Item]:
    rows = json.loads(data) if isinstance(data, str) else data
    items = []
    for row in rows or []:
        if isinstance(row, dict) and row.get("video_id"):
            items.append(Item(str(row["video_id"]), row.get("url") or None))
    return items


def task_info(tr: dict[str, Any]) -> TaskInfo:
    """A task run (the API's JSON) as recovery reads it: state, error class, message, attempts."""
    state = tr.get("state") or {}
    kind = state.get("type") or "PENDING"
    message = state.get("message")
    error_class = None
    if message and ":" in message and kind in ("FAILED", "CRASHED"):
        # Prefect's failure message reads "Task run encountered an exception Class: text".
        head, _, rest = message.partition(": ")
        error_class = head.rsplit(" ", 1)[-1] or None
        message = rest or message
    return TaskInfo(
        state=kind, error_class=error_class, message=message, attempts=int(tr.get("run_count") or 0)
    )


def _tag(tags: Iterable[str], prefix: str) -> str | None:
    return next((t[len(prefix) :] for t in tags if t.startswith(prefix)), None)


def process_alive(pid: int, started_by: datetime | None = None) -> bool:
    """True while pid lives (not a zombie) and, where /proc tells, started by `started_by`
    (a process that started later is another one that reused the pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, started = stat
    if state in ("Z", "X"):
        return False
    if started_by is not None and started is not None:
        return started <= started_by.timestamp() + 2.0
    return True


def _proc_stat(pid: int) -> tuple[str, float | None] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, StopIteration, ValueError):
        return None
    try:
        return fields[0], boot + int(fields[19]) / ticks
    except (IndexError, ValueError):
        return fields[0], None

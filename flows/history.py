"""Prefect's flow-run history as recovery's History: our runs, their task runs, recorded plans.

ytarchive/recovery.py builds plans from what this reads (no Prefect there). What the archive
flows write for it to read (owner tags, the archive label, the items artifact) is
flows/run_context.py. Prefect is imported inside the methods, after configure_prefect.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID

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
from ytarchive.recovery import Item, RunRecord, TaskInfo

__all__ = [
    "HEARTBEATS_MISSED",
    "PrefectHistory",
    "process_alive",
    "requested_from_urls",
    "same_archive",
]

HEARTBEATS_MISSED = 3  # a Running run elsewhere is dead after this many missed heartbeats
_PAGE = 200  # the server's default (and maximum) page size
_SOURCES = [*ARCHIVE_FLOWS, PLAN_FLOW]
logger = logging.getLogger(__name__)


def _api_errors() -> tuple[type[BaseException], ...]:
    """What a call to the API raises when the server is gone or answers an error."""
    import httpx
    from prefect.exceptions import ObjectNotFound

    return (httpx.HTTPError, OSError, ObjectNotFound)


class PrefectHistory:
    """recovery.History over Prefect's API (PREFECT_API_URL, or the client given)."""

    def __init__(self, client: Any | None = None, heartbeats_missed: float = HEARTBEATS_MISSED):
        self._client = client
        self.heartbeats_missed = heartbeats_missed

    @contextmanager
    def _session(self, doing: str) -> Iterator[Any]:
        """A sync client; API failures become ServerUnavailable naming what we were doing."""
        try:
            if self._client is not None:
                yield self._client
                return
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                yield client
        except _api_errors() as exc:
            raise ServerUnavailable(f"cannot {doing}: {exc}") from exc

    def runs(self, root: Path) -> list[RunRecord]:
        """All runs of our flows that archive into root, with what each was asked to archive."""
        with self._session("read Prefect's flow-run history") as client:
            runs, flow_names = _read_flow_runs(client)
            runs = [r for r in runs if same_archive(_run_root(r), root)]
            artifacts = _read_items_artifacts(client, [r.id for r in runs])
            here = host_name()
            return [
                self._record(
                    client, r, flow_names.get(r.flow_id, ""), artifacts.get(str(r.id)), here
                )
                for r in runs
            ]

    def task_infos(self, run_id: str) -> dict[str, TaskInfo]:
        """video_id -> its ``download-<id>`` task run in the given flow run."""
        with self._session("read the plan's task runs") as client:
            return _read_task_infos(client, run_id)

    def record_plan(
        self, root: Path, items: Sequence[Item], message: str, quality: str | None
    ) -> str:
        """A ``recovery-plan`` flow run created straight in state Failed with the message, and
        its ``archive-items`` artifact: in the UI and in `recovery list` like any failed run."""
        from prefect.client.schemas.actions import ArtifactCreate
        from prefect.states import Failed

        flow = SimpleNamespace(name=PLAN_FLOW, version=None, retries=None, retry_delay_seconds=None)
        parameters = {
            "urls": [i.target for i in items],
            "output_dir": str(root),
            "quality": quality,
        }
        table = [{"video_id": i.video_id, "url": i.url} for i in items]
        with self._session("record the recovery plan in Prefect") as client:
            run = client.create_flow_run(flow, parameters=parameters, state=Failed(message=message))
            client.create_artifact(
                ArtifactCreate(
                    key=ITEMS_ARTIFACT_KEY,
                    type="table",
                    data=json.dumps(table),
                    description=f"{len(table)} item(s) to fetch again: {message}",
                    flow_run_id=run.id,
                )
            )
        return str(run.id)

    def mark_crashed(self, run_id: str, message: str) -> None:
        """Force the run to Crashed; when the API fails, log it: the retry itself went ahead."""
        from prefect.states import Crashed

        try:
            with self._session("mark the run Crashed") as client:
                client.set_flow_run_state(run_id, Crashed(message=message), force=True)
        except ServerUnavailable as exc:
            logger.warning("flow run %s left in state Running: %s", run_id, exc)

    def _record(
        self, client: Any, run: Any, flow: str, artifact: list[Item] | None, here: str
    ) -> RunRecord:
        from prefect.client.schemas.objects import StateType

        params = dict(run.parameters or {})
        requested = artifact
        if requested is None and flow != PLAYLIST_FLOW and isinstance(params.get("urls"), list):
            requested = requested_from_urls(params["urls"])
        state = run.state.type if run.state else StateType.PENDING
        record = RunRecord(
            id=str(run.id),
            name=run.name,
            flow=flow,
            state=state.value,
            message=run.state.message if run.state else None,
            created=run.created or run.expected_start_time,
            parameters=params,
            tags=list(run.tags or []),
            requested=requested,
            output_dir=_run_root(run),
        )
        if state == StateType.RUNNING:
            record.alive = self._alive(client, run, here)
        return record

    def _alive(self, client: Any, run: Any, here: str) -> bool:
        """Same host: is the pid in its tags still the process that started the run? Elsewhere
        (or untagged): has it sent a heartbeat within the last few heartbeat intervals?"""
        host, pid = _tag(run.tags or [], HOST_TAG), _tag(run.tags or [], PID_TAG)
        if host == here and pid and pid.isdigit():
            return process_alive(int(pid), started_by=run.start_time)
        return not self._heartbeat_stale(client, run)

    def _heartbeat_stale(self, client: Any, run: Any) -> bool:
        """No heartbeat event from the run for heartbeats_missed intervals (Prefect sends one
        every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds, 180 by default, from every running
        flow). When the events cannot be read, the run is not called dead (and that is logged)."""
        from prefect.events.filters import (
            EventFilter,
            EventNameFilter,
            EventOccurredFilter,
            EventResourceFilter,
        )
        from prefect.settings import get_current_settings

        frequency = get_current_settings().flows.heartbeat_frequency
        since = run.start_time or run.created
        if not frequency or since is None:
            return False  # heartbeats are off (or the run never started): we cannot tell
        now = datetime.now(UTC)
        flt = EventFilter(  # newest first (the default order), so one event is the last heartbeat
            occurred=EventOccurredFilter(since=since),
            event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
            resource=EventResourceFilter(id=[f"prefect.flow-run.{run.id}"]),
        )
        try:
            page = client.read_events(filter=flt, limit=1)
        except _api_errors() as exc:
            logger.warning("heartbeats of flow run %s not read, taken as alive: %s", run.id, exc)
            return False
        last = max((e.occurred for e in page.events), default=since)
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


def _run_root(run: Any) -> str | None:
    """The archive root the run wrote to: its label (set by the run), else its parameter."""
    label = (getattr(run, "labels", None) or {}).get(ROOT_LABEL)
    return str(label) if label else (run.parameters or {}).get("output_dir")


def _read_flow_runs(client: Any) -> tuple[list[Any], dict[Any, str]]:
    """Every run of the flows plans come from, and flow id -> flow name."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterId, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    flows = FlowFilter(name=FlowFilterName(any_=_SOURCES))
    runs: list[Any] = []
    while True:
        page = client.read_flow_runs(
            flow_filter=flows, sort=FlowRunSort.ID_DESC, limit=_PAGE, offset=len(runs)
        )
        runs.extend(page)
        if len(page) < _PAGE:
            break
    flow_ids = list({r.flow_id for r in runs})
    if not flow_ids:
        return runs, {}
    found = client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=flow_ids)))
    return runs, {f.id: f.name for f in found}


def _read_items_artifacts(client: Any, run_ids: list[Any]) -> dict[str, list[Item]]:
    """run id -> the items its ``archive-items`` artifact lists (the newest, if several)."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    found: dict[str, list[Item]] = {}
    for start in range(0, len(run_ids), _PAGE):
        chunk = run_ids[start : start + _PAGE]
        flt = ArtifactFilter(
            key=ArtifactFilterKey(any_=[ITEMS_ARTIFACT_KEY]),
            flow_run_id=ArtifactFilterFlowRunId(any_=chunk),
        )
        got: list[Any] = []
        while True:
            page = client.read_artifacts(artifact_filter=flt, limit=_PAGE, offset=len(got))
            got.extend(page)
            if len(page) < _PAGE:
                break
        for art in sorted(got, key=lambda a: a.created):
            found[str(art.flow_run_id)] = _artifact_items(art.data)
    return found


def _artifact_items(data: Any) -> list[Item]:
    rows = json.loads(data) if isinstance(data, str) else data
    items = []
    for row in rows or []:
        if isinstance(row, dict) and row.get("video_id"):
            items.append(Item(str(row["video_id"]), row.get("url") or None))
    return items


def _read_task_infos(client: Any, run_id: str) -> dict[str, TaskInfo]:
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        TaskRunFilter,
        TaskRunFilterName,
    )

    flows = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(str(run_id))]))
    named = TaskRunFilter(name=TaskRunFilterName(like_="download-"))
    infos: dict[str, TaskInfo] = {}
    got = 0
    while True:
        page = client.read_task_runs(
            flow_run_filter=flows, task_run_filter=named, limit=_PAGE, offset=got
        )
        got += len(page)
        for tr in page:
            if tr.name.startswith("download-"):
                # "download-<id>", then " <title>" once the title is known
                video_id = tr.name[len("download-") :].split(" ", 1)[0]
                infos[video_id] = _task_info(tr)
        if len(page) < _PAGE:
            return infos


def _task_info(tr: Any) -> TaskInfo:
    from prefect.client.schemas.objects import StateType

    state = tr.state
    message = state.message if state else None
    error_class = None
    if message and ":" in message and state.type in (StateType.FAILED, StateType.CRASHED):
        # Prefect's failure message reads "Task run encountered an exception Class: text".
        head, _, rest = message.partition(": ")
        error_class = head.rsplit(" ", 1)[-1] or None
        message = rest or message
    return TaskInfo(
        state=state.type.value if state else StateType.PENDING.value,
        error_class=error_class,
        message=message,
        attempts=int(tr.run_count or 0),
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

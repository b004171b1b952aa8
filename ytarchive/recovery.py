"""Recovery plans, read from Prefect's flow-run history (our one module that talks to Prefect).

A recovery plan is one of our archive flow runs that ended Failed or Crashed (or is still marked
Running although the process that ran it is gone) and that no later run has taken over. Its items
are what the run was asked to archive minus what the catalog now holds as archived or
unavailable, so a plan is right even after a SIGKILL. There is no plan store of our own:

- what a run was asked to archive: the ``archive-items`` table artifact the flow writes once it
  knows its items (a playlist: right after listing it), before any download starts; it is an API
  call, so it is in the history even if the process is killed next. Without one, a videos run's
  ``urls`` parameter; a playlist run killed while listing has unknown items;
- who ran it: ``host:<name>`` and ``pid:<n>`` tags the flow puts on its own run at start, and the
  ``ytarchive.output_dir`` label naming the archive it writes to;
- what took it over: a later run whose ``recovery_of`` parameter names it, or a later run that was
  asked to archive every item the plan still holds (say, tonight's sync of the same playlist).

Prefect is imported inside functions only: ``storage verify`` (no ``--fix``) never loads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from ytarchive.errors import InputError, ServerUnavailable

__all__ = [
    "ARCHIVE_FLOWS",
    "PLAYLIST_FLOW",
    "VIDEOS_FLOW",
    "PLAN_FLOW",
    "ITEMS_ARTIFACT_KEY",
    "ROOT_LABEL",
    "USER_PLAN_MESSAGE",
    "VERIFY_PLAN_MESSAGE",
    "Item",
    "PlanItem",
    "Plan",
    "RunRecord",
    "TaskInfo",
    "attach_errors",
    "read_task_infos",
    "process_alive",
    "mark_run_owner",
    "record_run_items",
    "owner_tags",
    "requested_from_urls",
    "build_plans",
    "read_history",
    "list_plans",
    "get_plan",
    "create_plan",
    "create_refetch_plan",
    "create_verify_plan",
    "Problem",
    "verify_archive",
    "check_outcomes",
    "settle_dead_run",
    "same_archive",
]

PLAYLIST_FLOW = "archive-playlist"
VIDEOS_FLOW = "archive-videos"
# The flow of the runs `recovery create` and `storage verify --fix` record; it never executes.
PLAN_FLOW = "recovery-plan"
ARCHIVE_FLOWS = (PLAYLIST_FLOW, VIDEOS_FLOW)
PLAN_SOURCES = (*ARCHIVE_FLOWS, PLAN_FLOW)
ITEMS_ARTIFACT_KEY = "archive-items"
USER_PLAN_MESSAGE = "recovery plan created by user"
VERIFY_PLAN_MESSAGE = "recovery plan created by storage verify"
HOST_TAG = "host:"
PID_TAG = "pid:"
ROOT_LABEL = "ytarchive.output_dir"  # the archive root a run writes to, resolved by the run

# State types (Prefect's StateType values) as plain strings, so the plan logic needs no Prefect.
FAILED, CRASHED, RUNNING, COMPLETED = "FAILED", "CRASHED", "RUNNING", "COMPLETED"
# A later run in one of these states has taken its items over: it is done, running, or itself a
# plan. A Cancelled, Scheduled or Pending run has not: the plan it names stays open.
TAKES_OVER = (RUNNING, COMPLETED, FAILED, CRASHED)
HEARTBEATS_MISSED = 3  # a Running run elsewhere is dead after this many missed heartbeats
_PAGE = 200


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One thing a run was asked to archive: the catalog's video id (or the URL when not known)."""

    video_id: str
    url: str | None = None

    @property
    def target(self) -> str:
        """What to hand the archive flow again: the URL as given, else the id."""
        return self.url or self.video_id


@dataclass
class PlanItem:
    """An item still to do, with the last error the catalog or the task run recorded for it."""

    video_id: str
    url: str | None = None
    error_class: str | None = None
    message: str | None = None
    attempts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "video_id": self.video_id,
            "url": self.url,
            "error_class": self.error_class,
            "message": self.message,
            "attempts": self.attempts,
        }


@dataclass
class RunRecord:
    """What the history says about one flow run of ours, in plain values."""

    id: str
    name: str
    flow: str
    state: str  # StateType value: FAILED, CRASHED, RUNNING, COMPLETED, ...
    message: str | None
    created: datetime
    parameters: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    requested: list[Item] | None = None  # None: not known (a playlist killed while listing)
    alive: bool = True  # for RUNNING runs: is the process that runs it still there?
    output_dir: str | None = None  # the archive root: the run's label, else its parameter

    def __post_init__(self) -> None:
        if self.output_dir is None and self.parameters.get("output_dir"):
            self.output_dir = str(self.parameters["output_dir"])

    @property
    def recovery_of(self) -> str | None:
        value = self.parameters.get("recovery_of")
        return str(value) if value else None

    @property
    def is_failure(self) -> bool:
        return self.state in (FAILED, CRASHED) or (self.state == RUNNING and not self.alive)

    @property
    def state_label(self) -> str:
        if self.state == RUNNING and not self.alive:
            return "Crashed (process gone)"
        return self.state.capitalize()


@dataclass
class Plan:
    """A failed run of ours and the items it still holds; open until a later run takes it over."""

    plan_id: str
    name: str
    created: datetime
    flow: str
    state: str
    message: str | None
    source: str | list[str] | None
    output_dir: str | None
    quality: str | None
    items: list[PlanItem] | None  # None: not known; retrying re-runs the playlist
    status: str = "open"  # open | recovered | superseded | done
    closed_by: str | None = None
    recovery_of: str | None = None
    root: str | None = None  # the first run of the chain of retries this plan belongs to
    playlist_url: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def video_ids(self) -> list[str]:
        return [i.video_id for i in self.items or []]

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "name": self.name,
            "created": self.created.isoformat(),
            "flow": self.flow,
            "state": self.state,
            "message": self.message,
            "status": self.status,
            "closed_by": self.closed_by,
            "recovery_of": self.recovery_of,
            "root": self.root,
            "source": self.source,
            "output_dir": self.output_dir,
            "quality": self.quality,
            "items_known": self.items is not None,
            "video_ids": self.video_ids,
            "errors": {
                i.video_id: _error_text(i) for i in self.items or [] if i.error_class or i.message
            },
            "items": [i.as_dict() for i in self.items or []],
        }


def _error_text(item: PlanItem) -> str:
    if item.error_class and item.message:
        return f"{item.error_class}: {item.message}"
    return item.error_class or item.message or ""


# ---------------------------------------------------------------------------------------------
# Written by the archive flows while they run (inside a flow run)
# ---------------------------------------------------------------------------------------------


def owner_tags(host: str | None = None, pid: int | None = None) -> list[str]:
    """The tags naming the process that runs a flow: ``host:<name>``, ``pid:<n>``."""
    return [f"{HOST_TAG}{host or socket.gethostname()}", f"{PID_TAG}{pid or os.getpid()}"]


def mark_run_owner(root: Path | str | None = None) -> None:
    """Tag the current flow run with this host and pid, so recovery can tell if its process died,
    and label it with the archive root it writes to (resolved here, where relative paths mean
    something). Call first thing in a flow. Set through the API, not the tags context, so task
    runs do not inherit them. A no-op outside a flow run.
    """
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return
    run = ctx.flow_run
    keep = [t for t in run.tags or [] if not t.startswith((HOST_TAG, PID_TAG))]
    with get_client(sync_client=True) as client:
        client.update_flow_run(run.id, tags=[*keep, *owner_tags()])
        if root is not None:
            resolved = str(Path(root).expanduser().resolve())
            client.update_flow_run_labels(run.id, {ROOT_LABEL: resolved})


def record_run_items(video_ids: Sequence[str], urls: Mapping[str, str] | None = None) -> None:
    """Write the ``archive-items`` artifact: the items this run was asked to archive.

    Call it once the items are known (a playlist: right after listing), before any download
    starts. ``urls`` maps a video id to the URL it was given as, where that is not the id.
    """
    from prefect.artifacts import create_table_artifact
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:
        return
    urls = urls or {}
    table = [{"video_id": v, "url": urls.get(v)} for v in dict.fromkeys(video_ids)]
    create_table_artifact(
        key=ITEMS_ARTIFACT_KEY,
        table=table,
        description=f"{len(table)} item(s) this run was asked to archive (`ytarchive recovery`).",
    )


# ---------------------------------------------------------------------------------------------
# Plans from run records: pure logic, no Prefect
# ---------------------------------------------------------------------------------------------


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


Settled = Callable[[Sequence[str]], set[str]]


def build_plans(
    runs: Sequence[RunRecord],
    settled: Settled,
    include_closed: bool = False,
) -> list[Plan]:
    """Every failed run as a plan, newest first; only open ones unless include_closed.

    runs are one archive's runs of our flows (any state); settled(ids) returns the ids the catalog
    holds as archived or unavailable.
    """
    ordered = sorted(runs, key=lambda r: r.created)
    by_id = {r.id: r for r in ordered}
    candidates = [r for r in ordered if r.flow in PLAN_SOURCES and r.is_failure]
    asked = {i.video_id for r in candidates for i in r.requested or []}
    done = settled(sorted(asked)) if asked else set()
    plans = [_plan_for(r, ordered, by_id, done) for r in candidates]
    plans.sort(key=lambda p: p.created, reverse=True)
    return [p for p in plans if include_closed or p.is_open]


def _plan_for(
    run: RunRecord, ordered: Sequence[RunRecord], by_id: dict[str, RunRecord], done: set[str]
) -> Plan:
    remaining = None
    if run.requested is not None:
        remaining = [PlanItem(i.video_id, i.url) for i in run.requested if i.video_id not in done]
    root = _chain_root(run, by_id)
    plan = Plan(
        plan_id=run.id,
        name=run.name,
        created=run.created,
        flow=run.flow,
        state=run.state_label,
        message=run.message,
        source=_source(root),
        output_dir=run.output_dir,
        quality=run.parameters.get("quality"),
        items=remaining,
        recovery_of=run.recovery_of,
        root=root.id,
        playlist_url=_playlist_url(run, root),
    )
    takers = [r for r in ordered if r.state in TAKES_OVER and r.id != run.id]
    linked = next((r for r in takers if r.recovery_of == run.id), None)
    if linked is not None:
        plan.status, plan.closed_by = "recovered", linked.id
    elif remaining is not None and not remaining:
        plan.status = "done"
    else:
        later = (r for r in takers if r.created > run.created and _covers(r, plan))
        taker = next(later, None)
        if taker is not None:
            plan.status, plan.closed_by = "superseded", taker.id
    return plan


def _covers(later: RunRecord, plan: Plan) -> bool:
    """Whether a later run was asked to archive everything the plan still holds."""
    if plan.items is None:
        return later.flow == PLAYLIST_FLOW and later.parameters.get("url") == plan.playlist_url
    if later.requested is None:
        return False
    asked = {i.video_id for i in later.requested}
    return all(i.video_id in asked for i in plan.items)


def _chain_root(run: RunRecord, by_id: dict[str, RunRecord]) -> RunRecord:
    seen = {run.id}
    while run.recovery_of and run.recovery_of in by_id and run.recovery_of not in seen:
        run = by_id[run.recovery_of]
        seen.add(run.id)
    return run


def _source(run: RunRecord) -> str | list[str] | None:
    if run.flow == PLAYLIST_FLOW:
        return run.parameters.get("url")
    urls = run.parameters.get("urls")
    return [str(u) for u in urls] if isinstance(urls, list) else urls


def _playlist_url(run: RunRecord, root: RunRecord) -> str | None:
    for r in (run, root):
        if r.flow == PLAYLIST_FLOW and r.parameters.get("url"):
            return str(r.parameters["url"])
    return None


def attach_errors(plan: Plan, outcomes: Mapping[str, Any], tasks: Mapping[str, Any]) -> None:
    """Fill each item's error class, message and attempts from the catalog, else its task run.

    outcomes: video_id -> DownloadResult (the catalog's latest); tasks: video_id -> TaskInfo.
    """
    for item in plan.items or []:
        outcome = outcomes.get(item.video_id)
        task = tasks.get(item.video_id)
        if outcome is not None and getattr(outcome, "status", None) == "failed":
            item.error_class = outcome.error_class
            item.message = outcome.reason
            item.attempts = int(outcome.attempts or 0)
        elif task is not None and task.message:
            item.error_class, item.message = task.error_class, task.message
            item.attempts = task.attempts
        elif plan.state.startswith(("Crashed", "Running")):
            item.message = "not finished: the run's process stopped before this item did"
        if task is not None and not item.attempts:
            item.attempts = task.attempts


# ---------------------------------------------------------------------------------------------
# Reading the history (Prefect's client)
# ---------------------------------------------------------------------------------------------


@dataclass
class TaskInfo:
    """A download task run: its state, the error it ended with, how many times it ran."""

    state: str
    error_class: str | None
    message: str | None
    attempts: int


def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def _api_errors() -> tuple[type[BaseException], ...]:
    import httpx

    return (httpx.HTTPError, OSError)


def read_history(root: Path, client: Any | None = None) -> list[RunRecord]:
    """All runs of our flows that archive into root, with what each was asked to archive."""
    if client is None:
        try:
            with _client() as c:
                return read_history(root, c)
        except _api_errors() as exc:
            raise ServerUnavailable(f"cannot read Prefect's flow-run history: {exc}") from exc
    runs = [r for r in _read_flow_runs(client) if same_archive(_run_root(r), root)]
    artifacts = _read_items_artifacts(client, [r.id for r in runs])
    here = socket.gethostname()
    records = [_record(r, artifacts.get(str(r.id)), here, client) for r in runs]
    return records


def _run_root(run: Any) -> str | None:
    """The archive root the run wrote to: its label (set by the run), else its parameter."""
    label = (getattr(run, "labels", None) or {}).get(ROOT_LABEL)
    return str(label) if label else (run.parameters or {}).get("output_dir")


def _read_flow_runs(client: Any) -> list[Any]:
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    flows = FlowFilter(name=FlowFilterName(any_=list(PLAN_SOURCES)))
    runs: list[Any] = []
    while True:
        page = client.read_flow_runs(
            flow_filter=flows, sort=FlowRunSort.ID_DESC, limit=_PAGE, offset=len(runs)
        )
        runs.extend(page)
        if len(page) < _PAGE:
            break
    flow_names = _flow_names(client, {r.flow_id for r in runs})
    for r in runs:
        r.__dict__["_ytarchive_flow"] = flow_names.get(r.flow_id, "")
    return runs


def _flow_names(client: Any, flow_ids: set[Any]) -> dict[Any, str]:
    from prefect.client.schemas.filters import FlowFilter, FlowFilterId

    if not flow_ids:
        return {}
    flows = client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=list(flow_ids))))
    return {f.id: f.name for f in flows}


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


def _record(run: Any, artifact: list[Item] | None, here: str, client: Any) -> RunRecord:
    flow = run.__dict__.get("_ytarchive_flow", "")
    params = dict(run.parameters or {})
    requested = artifact
    if requested is None and flow != PLAYLIST_FLOW and isinstance(params.get("urls"), list):
        requested = requested_from_urls(params["urls"])
    state = run.state.type.value if run.state else "PENDING"
    record = RunRecord(
        id=str(run.id),
        name=run.name,
        flow=flow,
        state=state,
        message=run.state.message if run.state else None,
        created=run.created or run.expected_start_time,
        parameters=params,
        tags=list(run.tags or []),
        requested=requested,
        output_dir=_run_root(run),
    )
    if state == RUNNING:
        record.alive = _run_alive(run, here, client)
    return record


def _tag(tags: Iterable[str], prefix: str) -> str | None:
    return next((t[len(prefix) :] for t in tags if t.startswith(prefix)), None)


def _run_alive(run: Any, here: str, client: Any) -> bool:
    """Same host: is the pid in its tags still the process that started the run? Elsewhere (or
    untagged): has it sent a heartbeat within the last few heartbeat intervals?"""
    host, pid = _tag(run.tags or [], HOST_TAG), _tag(run.tags or [], PID_TAG)
    if host == here and pid and pid.isdigit():
        return process_alive(int(pid), started_by=run.start_time)
    return not _heartbeat_stale(run, client)


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


def _heartbeat_stale(run: Any, client: Any) -> bool:
    """No heartbeat event from the run for HEARTBEATS_MISSED intervals (Prefect sends one every
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds, 180 by default, from every running flow)."""
    from prefect.events.filters import (
        EventFilter,
        EventNameFilter,
        EventOccurredFilter,
        EventResourceFilter,
    )
    from prefect.settings import get_current_settings

    frequency = get_current_settings().flows.heartbeat_frequency
    if not frequency:
        return False  # heartbeats are off: we cannot tell, so do not call it dead
    since = run.start_time or run.created
    now = datetime.now(UTC)
    if since is None:
        return False
    flt = EventFilter(  # newest first (the default order), so one event is the last heartbeat
        occurred=EventOccurredFilter(since=since),
        event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
        resource=EventResourceFilter(id=[f"prefect.flow-run.{run.id}"]),
    )
    try:
        page = client.read_events(filter=flt, limit=1)
        last = max((e.occurred for e in page.events), default=since)
    except _api_errors():
        return False
    return now - last > timedelta(seconds=HEARTBEATS_MISSED * max(int(frequency), 30))


def read_task_infos(run_id: str, client: Any) -> dict[str, TaskInfo]:
    """video_id -> its ``download-<id>`` task run in the given flow run."""
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
    state = tr.state
    message = state.message if state else None
    error_class = None
    if message and ":" in message and state and state.type.value in (FAILED, CRASHED):
        # Prefect's failure message reads "Task run encountered an exception Class: text".
        head, _, rest = message.partition(": ")
        error_class = head.rsplit(" ", 1)[-1] or None
        message = rest or message
    return TaskInfo(
        state=state.type.value if state else "PENDING",
        error_class=error_class,
        message=message,
        attempts=int(tr.run_count or 0),
    )


# ---------------------------------------------------------------------------------------------
# Public entry points: what the CLI and flows/recovery.py call
# ---------------------------------------------------------------------------------------------


def _catalog(root: Path):
    from ytarchive.catalog import Catalog

    return Catalog(root)


def list_plans(root: Path, include_closed: bool = False, with_errors: bool = True) -> list[Plan]:
    """The archive's recovery plans, newest first (open ones only unless include_closed)."""
    runs = read_history(root)
    catalog = _catalog(root)
    plans = build_plans(runs, catalog.settled_ids, include_closed=include_closed)
    if with_errors:
        ids = sorted({v for p in plans for v in p.video_ids})
        outcomes = catalog.latest_outcomes(ids) if ids else {}
        for plan in plans:
            attach_errors(plan, outcomes, {})
    return plans


def get_plan(root: Path, plan: str, with_tasks: bool = True) -> Plan:
    """One plan (open or not), named by flow-run id, a unique id prefix, or the run's name."""
    plans = list_plans(root, include_closed=True, with_errors=False)
    found = _find(plans, plan)
    if with_tasks and found.items:
        try:
            with _client() as client:
                tasks = read_task_infos(found.plan_id, client)
        except _api_errors() as exc:
            raise ServerUnavailable(f"cannot read the plan's task runs: {exc}") from exc
        outcomes = _catalog(root).latest_outcomes(found.video_ids)
        attach_errors(found, outcomes, tasks)
    return found


def _find(plans: Sequence[Plan], key: str) -> Plan:
    key = key.strip()
    exact = [p for p in plans if key in (p.plan_id, p.name)]
    if exact:
        return exact[0]
    prefixed = [p for p in plans if len(key) >= 4 and p.plan_id.startswith(key)]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        raise InputError(f"plan {key!r} is ambiguous: {len(prefixed)} plans start with it")
    raise InputError(
        f"no recovery plan {key!r} for the archive (see `ytarchive recovery list --all`)"
    )


def create_plan(
    root: Path,
    items: Sequence[Item],
    message: str = USER_PLAN_MESSAGE,
    quality: str | None = None,
) -> str:
    """Record a plan for these items in Prefect's history, not run: a ``recovery-plan`` flow run
    created straight in state Failed with the message, and its ``archive-items`` artifact.
    Returns its id."""
    from types import SimpleNamespace

    from prefect.client.schemas.actions import ArtifactCreate
    from prefect.states import Failed

    flow = SimpleNamespace(name=PLAN_FLOW, version=None, retries=None, retry_delay_seconds=None)
    items = list(dict.fromkeys(items))
    parameters = {
        "urls": [i.target for i in items],
        "output_dir": str(Path(root).expanduser().resolve()),
        "quality": quality,
    }
    table = [{"video_id": i.video_id, "url": i.url} for i in items]
    try:
        with _client() as client:
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
    except _api_errors() as exc:
        raise ServerUnavailable(f"cannot record the recovery plan in Prefect: {exc}") from exc
    return str(run.id)


def create_refetch_plan(root: Path, refs: Sequence[Any], quality: str | None = None) -> str:
    """``recovery create``: a plan to fetch these videos again, whatever the catalog says.

    Videos the catalog holds as archived or unavailable get a ``failed`` outcome naming the plan
    (its error class says why: the file is missing, has the wrong size, or was asked for again),
    so the plan holds them and the retry does not skip them.
    """
    items = [Item(r.video_id, None) if r.video_id else Item(r.url, r.url) for r in refs]
    catalog = _catalog(root)
    outcomes = catalog.latest_outcomes([i.video_id for i in items])
    settled = [o for o in outcomes.values() if o.status in ("archived", "unavailable")]
    damage = {p.video_id: p for p in check_outcomes(root, settled)}
    plan_id = create_plan(root, items, USER_PLAN_MESSAGE, quality)
    lost = [_lost(o, damage.get(o.video_id), plan_id) for o in settled]
    if lost:
        catalog.record_outcomes(lost)
    return plan_id


def create_verify_plan(root: Path, problems: Sequence[Problem]) -> str:
    """``storage verify --fix``: record the damaged videos as failed and a plan to fetch them."""
    catalog = _catalog(root)
    ids = list(dict.fromkeys(p.video_id for p in problems))
    outcomes = catalog.latest_outcomes(ids)
    items = [Item(v, _source_url(root, v)) for v in ids]
    qualities = {o.quality for o in outcomes.values() if o.quality}
    quality = qualities.pop() if len(qualities) == 1 else None
    count = f"{len(ids)} video(s) with missing or damaged files"
    plan_id = create_plan(root, items, f"{VERIFY_PLAN_MESSAGE}: {count}", quality)
    by_id = {p.video_id: p for p in problems}
    lost = [_lost(o, by_id.get(o.video_id), plan_id) for o in outcomes.values()]
    if lost:
        catalog.record_outcomes(lost)
    return plan_id


def _lost(outcome: Any, problem: Problem | None, plan_id: str) -> Any:
    from ytarchive.models import DownloadResult

    if problem is not None:
        error_class, reason = problem.error_class, problem.detail
    else:
        error_class, reason = "RefetchRequested", "asked to fetch again"
    return DownloadResult(
        video_id=outcome.video_id,
        status="failed",
        reason=f"{reason} (recovery plan {plan_id})",
        error_class=error_class,
        quality=outcome.quality,
        attempts=0,
        flow_run_id=plan_id,
    )


def _source_url(root: Path, video_id: str) -> str | None:
    """The URL a non-YouTube video was fetched from (its metadata record), None for YouTube ids."""
    from ytarchive.layout import metadata_path
    from ytarchive.refs import is_video_id

    if is_video_id(video_id):
        return None
    try:
        record = json.loads(metadata_path(root, video_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = record.get("webpage_url") if isinstance(record, dict) else None
    return str(url) if url else None


# ---------------------------------------------------------------------------------------------
# storage verify: the archived files against the catalog (no Prefect)
# ---------------------------------------------------------------------------------------------

_PROBLEM_CLASSES = {
    "missing": "MissingFile",
    "size": "SizeMismatch",
    "checksum": "ChecksumMismatch",
    "no-file": "MissingFile",
}


@dataclass
class Problem:
    """An archived video whose file is not as the catalog recorded it."""

    video_id: str
    problem: str  # missing | size | checksum | no-file
    file_path: str | None
    expected_bytes: int | None
    actual_bytes: int | None
    detail: str

    @property
    def error_class(self) -> str:
        return _PROBLEM_CLASSES.get(self.problem, "MissingFile")

    def as_dict(self) -> dict[str, Any]:
        return {
            "video_id": self.video_id,
            "problem": self.problem,
            "file_path": self.file_path,
            "expected_bytes": self.expected_bytes,
            "actual_bytes": self.actual_bytes,
            "detail": self.detail,
        }


def verify_archive(root: Path) -> list[Problem]:
    """Every video the catalog holds as archived: its file exists with the recorded size (and
    checksum, where one is recorded). Returns the problems, in video id order."""
    return check_outcomes(root, _catalog(root).latest_outcomes().values())


def check_outcomes(root: Path, outcomes: Iterable[Any]) -> list[Problem]:
    """The problems among these outcomes' files (outcomes other than archived are ignored)."""
    problems = []
    for outcome in sorted(outcomes, key=lambda o: o.video_id):
        if outcome.status == "archived":
            problem = _check(Path(root), outcome)
            if problem is not None:
                problems.append(problem)
    return problems


def _check(root: Path, outcome: Any) -> Problem | None:
    rel, expected = outcome.file_path, outcome.bytes
    if not rel:
        return Problem(outcome.video_id, "no-file", None, expected, None, "no file recorded")
    path = root / rel
    try:
        size = path.stat().st_size if path.is_file() else None
    except OSError:
        size = None
    if size is None:
        return Problem(outcome.video_id, "missing", rel, expected, None, f"file missing: {rel}")
    if expected is not None and size != expected:
        detail = f"size {size} bytes, recorded {expected}: {rel}"
        return Problem(outcome.video_id, "size", rel, expected, size, detail)
    checksum = getattr(outcome, "sha256", None)
    if checksum and _sha256(path) != checksum:
        detail = f"sha256 differs from the one recorded: {rel}"
        return Problem(outcome.video_id, "checksum", rel, expected, size, detail)
    return None


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def settle_dead_run(plan: Plan, recovered_by: str | None = None) -> None:
    """Mark a Running run whose process is gone as Crashed, so the UI tells the truth."""
    if not plan.state.startswith("Crashed (process gone)"):
        return
    from prefect.states import Crashed

    note = "the process that ran this flow run is gone"
    if recovered_by:
        note += f"; recovered by flow run {recovered_by}"
    with contextlib.suppress(*_api_errors()), _client() as client:
        client.set_flow_run_state(plan.plan_id, Crashed(message=note), force=True)

"""Recovery plans, from a history of our flow runs that the caller gives (a History; no Prefect).

A recovery plan is one of our archive flow runs that ended Failed or Crashed (or is still marked
Running although the process that ran it is gone) and that no later run has taken over. Its items
are what the run was asked to archive minus what the catalog now holds as archived or
unavailable, so a plan is right even after a SIGKILL. There is no plan store of our own: the
history is Prefect's flow-run history, read by flows/history.py (PrefectHistory), which tells
for each run:

- what it was asked to archive: the ``archive-items`` table artifact the flow writes once it
  knows its items (a playlist: right after listing it), before any download starts. Without
  one, a videos run's ``urls`` parameter; a playlist run killed while listing has unknown items;
- who ran it and whether that process still lives (``host:``/``pid:`` tags, heartbeats), and the
  archive it writes to (the ``ytarchive.output_dir`` label);
- what took it over: a later run whose ``recovery_of`` parameter names it, or a later run that was
  asked to archive every item the plan still holds (say, tonight's sync of the same playlist).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ytarchive.errors import InputError
from ytarchive.names import ARCHIVE_FLOWS, PLAN_FLOW, PLAYLIST_FLOW
from ytarchive.verify import Problem, check_outcomes

__all__ = [
    "USER_PLAN_MESSAGE",
    "VERIFY_PLAN_MESSAGE",
    "History",
    "Item",
    "PlanItem",
    "Plan",
    "RunRecord",
    "TaskInfo",
    "attach_errors",
    "build_plans",
    "list_plans",
    "get_plan",
    "create_plan",
    "create_refetch_plan",
    "create_verify_plan",
    "settle_dead_run",
]

PLAN_SOURCES = (*ARCHIVE_FLOWS, PLAN_FLOW)
USER_PLAN_MESSAGE = "recovery plan created by user"
VERIFY_PLAN_MESSAGE = "recovery plan created by storage verify"

# Prefect's StateType values, as plain strings (the history gives them so): no Prefect here.
FAILED, CRASHED, RUNNING, COMPLETED = "FAILED", "CRASHED", "RUNNING", "COMPLETED"
# A later run in one of these states has taken its items over: it is done, running, or itself a
# plan. A Cancelled, Scheduled or Pending run has not: the plan it names stays open.
TAKES_OVER = (RUNNING, COMPLETED, FAILED, CRASHED)
PROCESS_GONE = "Crashed (process gone)"  # the label of a Running run whose process is gone
_NOT_FINAL = ("failed", "upcoming", "live")  # the catalog's statuses a later run takes again


# Records


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
        return asdict(self)


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
    def process_gone(self) -> bool:
        """Marked Running, but the process that ran it is gone."""
        return self.state == RUNNING and not self.alive

    @property
    def is_failure(self) -> bool:
        return self.state in (FAILED, CRASHED) or self.process_gone

    @property
    def state_label(self) -> str:
        return PROCESS_GONE if self.process_gone else self.state.capitalize()


@dataclass
class TaskInfo:
    """A download task run: its state, the error it ended with, how many times it ran."""

    state: str
    error_class: str | None
    message: str | None
    attempts: int


@dataclass
class Plan:
    """A failed run of ours and the items it still holds; open until a later run takes it over."""

    plan_id: str
    name: str
    created: datetime
    flow: str
    state: str  # the label shown: Failed, Crashed, or "Crashed (process gone)"
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
    state_type: str = FAILED  # the run's StateType value (RUNNING when its process is gone)
    process_gone: bool = False

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


class History(Protocol):
    """Where plans come from and are recorded: flows/history.py's PrefectHistory, or a stand-in.

    Each method raises ServerUnavailable when the history cannot be read or written.
    """

    def runs(self, root: Path) -> list[RunRecord]:
        """Every run of our flows (any state) that archives into root."""
        ...

    def task_infos(self, run_id: str) -> dict[str, TaskInfo]:
        """video_id -> its ``download-<id>`` task run in the run."""
        ...

    def record_plan(
        self, root: Path, items: Sequence[Item], message: str, quality: str | None
    ) -> str:
        """Record a failed ``recovery-plan`` run asked to archive items into root: its id."""
        ...

    def mark_crashed(self, run_id: str, message: str) -> None:
        """Set the run's state to Crashed with message (a failure is logged, not raised)."""
        ...


# Plans from run records


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
        state_type=run.state,
        process_gone=run.process_gone,
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
    An outcome that is not final (failed; upcoming or live: not due yet) gives the item its
    reason (what happened, then what to do) and error class.
    """
    for item in plan.items or []:
        outcome = outcomes.get(item.video_id)
        task = tasks.get(item.video_id)
        if outcome is not None and getattr(outcome, "status", None) in _NOT_FINAL:
            item.error_class = outcome.error_class
            item.message = outcome.reason
            item.attempts = int(outcome.attempts or 0)
        elif task is not None and task.message:
            item.error_class, item.message = task.error_class, task.message
            item.attempts = task.attempts
        elif plan.state_type in (CRASHED, RUNNING):
            item.message = "not finished: the run's process stopped before this item did"
        if task is not None and not item.attempts:
            item.attempts = task.attempts


# What the CLI and flows/recovery.py call, each over the history it is given


def _catalog(root: Path) -> Any:
    from ytarchive.catalog import Catalog

    return Catalog(root)


def list_plans(
    root: Path, include_closed: bool = False, with_errors: bool = True, *, history: History
) -> list[Plan]:
    """The archive's recovery plans, newest first (open ones only unless include_closed)."""
    runs = history.runs(root)
    catalog = _catalog(root)
    plans = build_plans(runs, catalog.settled_ids, include_closed=include_closed)
    if with_errors:
        ids = sorted({v for p in plans for v in p.video_ids})
        outcomes = catalog.latest_outcomes(ids) if ids else {}
        for plan in plans:
            attach_errors(plan, outcomes, {})
    return plans


def get_plan(root: Path, plan: str, with_tasks: bool = True, *, history: History) -> Plan:
    """One plan (open or not), named by flow-run id, a unique id prefix, or the run's name."""
    plans = list_plans(root, include_closed=True, with_errors=False, history=history)
    found = _find(plans, plan)
    if with_tasks and found.items:
        tasks = history.task_infos(found.plan_id)
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
    *,
    history: History,
) -> str:
    """Record a plan for these items in the history, not run: a ``recovery-plan`` run in state
    Failed with the message, asked to archive the items into root. Returns its id."""
    resolved = Path(root).expanduser().resolve()
    return history.record_plan(resolved, list(dict.fromkeys(items)), message, quality)


def create_refetch_plan(
    root: Path, refs: Sequence[Any], quality: str | None = None, *, history: History
) -> str:
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
    plan_id = create_plan(root, items, USER_PLAN_MESSAGE, quality, history=history)
    lost = [_lost(o, damage.get(o.video_id), plan_id) for o in settled]
    if lost:
        catalog.record_outcomes(lost)
    return plan_id


def create_verify_plan(root: Path, problems: Sequence[Problem], *, history: History) -> str:
    """``storage verify --fix``: record the damaged videos as failed and a plan to fetch them."""
    catalog = _catalog(root)
    ids = list(dict.fromkeys(p.video_id for p in problems))
    outcomes = catalog.latest_outcomes(ids)
    items = [Item(v, _source_url(root, v)) for v in ids]
    qualities = {o.quality for o in outcomes.values() if o.quality}
    quality = qualities.pop() if len(qualities) == 1 else None
    count = f"{len(ids)} video(s) with missing or damaged files"
    message = f"{VERIFY_PLAN_MESSAGE}: {count}"
    plan_id = create_plan(root, items, message, quality, history=history)
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


def settle_dead_run(plan: Plan, history: History, recovered_by: str | None = None) -> None:
    """Mark a Running run whose process is gone as Crashed, so the UI tells the truth."""
    if not plan.process_gone:
        return
    note = "the process that ran this flow run is gone"
    if recovered_by:
        note += f"; recovered by flow run {recovered_by}"
    history.mark_crashed(plan.plan_id, note)

"""The tail index: stats, search and list read the same from it as from the newer rows' files."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from tests.ytarchive.catalog.test_catalog import T0, _random_videos, _same_answers, outcome
from ytarchive.catalog import TABLES, Catalog

QUERIES = ("piano", "cat piano", "jazz", "über x_y", "a", "renamed")
STATUSES = ["archived", "unavailable", "failed"]


def _write_tail(catalog: Catalog, videos: list, rng: random.Random, files: int, seed: int) -> None:
    for i in range(files):  # as archive runs write them: many small files
        later = T0 + timedelta(days=seed + i + 1)
        renamed = [
            v.model_copy(update={"title": f"renamed {i} piano", "fetched_at": later})
            for v in rng.sample(videos, 3)
        ]
        catalog.record_metadata(renamed + _random_videos(2, seed=seed + i))
        catalog.record_outcomes(
            [outcome(v.video_id, rng.choice(STATUSES), recorded_at=later) for v in videos[i::40]]
        )


def _answers(catalog: Catalog) -> tuple:
    return (
        catalog.stats(),
        [catalog.search(q, limit=500) for q in QUERIES],
        catalog.list_videos(),
        catalog.list_videos(limit=5, offset=3),
    )


def _tail_indexes(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "catalog" / "_index").glob("tail-*.json"))


def test_unmerged_merged_with_its_index_and_fully_compacted_answer_alike(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    rng = random.Random(11)
    videos = _random_videos(120, seed=3)
    catalog.record_metadata(videos)
    catalog.record_outcomes(
        [outcome(v.video_id, rng.choice(STATUSES), recorded_at=T0) for v in videos[:90]]
    )
    catalog.compact()
    for i in range(20):  # as archive runs write them: many small files
        later = T0 + timedelta(days=i + 1)
        renamed = [
            v.model_copy(update={"title": f"renamed {i} piano", "fetched_at": later})
            for v in rng.sample(videos, 3)
        ]
        old = rng.choice(videos)
        late = [old.model_copy(update={"title": "late", "fetched_at": T0 - timedelta(days=1)})]
        catalog.record_metadata(renamed + late + _random_videos(2, seed=200 + i))
        catalog.record_outcomes(
            [
                outcome(v.video_id, rng.choice(STATUSES), recorded_at=rng.choice([later, T0]))
                for v in rng.sample(videos, 2)
            ]
        )
    unmerged = _answers(catalog)
    assert _tail_indexes(tmp_path) == []

    assert catalog.maintain()["compaction"] == "merge"  # the background step: merged, indexed
    assert len(_tail_indexes(tmp_path)) == 1
    assert catalog._state(TABLES, archive=True).tail_index is not None  # read through it
    assert _answers(catalog) == unmerged
    _same_answers(tmp_path, tmp_path / "check")

    # rows newer than the index: read from their files over it
    catalog.record_metadata(
        [
            videos[0].model_copy(update={"title": "newest jazz", "fetched_at": T0 + timedelta(99)}),
            *_random_videos(3, seed=300),
        ]
    )
    catalog.record_outcomes([outcome(videos[1].video_id, "failed", recorded_at=T0 + timedelta(99))])
    assert catalog._state(TABLES, archive=True).tail_index is not None
    _same_answers(tmp_path, tmp_path / "check")
    newer = _answers(catalog)

    catalog.compact(full=False)  # merges those, indexes the tail anew
    assert len(_tail_indexes(tmp_path)) == 1
    assert _answers(catalog) == newer
    catalog.compact()
    assert _tail_indexes(tmp_path) == []
    assert _answers(catalog) == newer


KILLED_AT = """
import os, signal, sys
from pathlib import Path
import ytarchive.catalog._tail as tail
from ytarchive.catalog import Catalog

def die(*args, **kw):
    os.kill(os.getpid(), signal.SIGKILL)

step, real_drop = sys.argv[2], tail._drop
if step == "building":  # its database half written under a temporary name
    tail._write = lambda con, sql, name: (con.execute(f"CREATE TABLE {name}.x AS SELECT 1"), die())
elif step == "renamed":  # its database in place, its manifest not yet
    tail.atomic_write = die
elif step == "published":  # its manifest written, the older index not yet removed
    tail._drop = lambda index_dir, keep, temporary_only=False: (
        die() if keep else real_drop(index_dir, keep, temporary_only)
    )
Catalog(Path(sys.argv[1])).compact(full=False)
"""


@pytest.mark.parametrize("step", ["building", "renamed", "published"])
def test_a_tail_indexer_killed_at_any_step_changes_no_answer(tmp_path: Path, step: str) -> None:
    catalog = Catalog(tmp_path)
    rng = random.Random(5)
    videos = _random_videos(80, seed=4)
    catalog.record_metadata(videos)
    catalog.record_outcomes([outcome(v.video_id, "failed", recorded_at=T0) for v in videos])
    catalog.compact()
    _write_tail(catalog, videos, rng, files=18, seed=100)
    catalog.maintain()
    assert len(_tail_indexes(tmp_path)) == 1
    _write_tail(catalog, videos, rng, files=18, seed=200)
    before = _answers(catalog)

    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_AT), str(tmp_path), step],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _answers(catalog) == before

    catalog.compact(full=False)  # the next one cleans up and indexes the tail
    index = tmp_path / "catalog" / "_index"
    assert len(_tail_indexes(tmp_path)) == 1
    assert len(list(index.glob("tail-*.duckdb"))) == 1
    assert not list(index.glob(".tmp-*"))
    assert catalog._state(TABLES, archive=True).tail_index is not None
    assert _answers(catalog) == before

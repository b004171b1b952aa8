"""`storage verify`: the archived files against what the catalog recorded (no Prefect)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ytarchive.importer import ARCHIVE_REASON

__all__ = ["Problem", "verify_archive", "check_outcomes"]

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
        return asdict(self)


def verify_archive(root: Path) -> list[Problem]:
    """Every video the catalog holds as archived: its file exists with the recorded size (and
    checksum, where one is recorded). Returns the problems, in video id order."""
    from ytarchive.catalog import Catalog

    return check_outcomes(root, Catalog(root).latest_outcomes().values())


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
    if not rel and getattr(outcome, "reason", None) == ARCHIVE_REASON:  # archived elsewhere
        return None
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
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

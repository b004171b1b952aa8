"""`storage verify`'s file checks: each kind of damage named (no Prefect, no catalog needed)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

from ytarchive.verify import check_outcomes, verify_archive

A, B, C = "aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc"


def _outcome(video_id: str, file_path: str | None, size: int | None, **extra) -> SimpleNamespace:
    return SimpleNamespace(
        video_id=video_id, status="archived", file_path=file_path, bytes=size, **extra
    )


def test_check_outcomes_names_each_kind_of_damage(tmp_path: Path) -> None:
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "ok.mp4").write_bytes(b"12345")
    (tmp_path / "videos" / "sum.mp4").write_bytes(b"12345")
    good_sum = hashlib.sha256(b"12345").hexdigest()
    outcomes = [
        _outcome(A, "videos/ok.mp4", 5, sha256=good_sum),
        _outcome(B, "videos/ok.mp4", 6),
        _outcome(C, "videos/gone.mp4", 5),
        _outcome("ddddddddddd", "videos/sum.mp4", 5, sha256="0" * 64),
        _outcome("eeeeeeeeeee", None, None),
        SimpleNamespace(video_id="fffffffffff", status="failed", file_path=None, bytes=None),
    ]
    found = {p.video_id: (p.problem, p.error_class) for p in check_outcomes(tmp_path, outcomes)}
    assert found == {
        B: ("size", "SizeMismatch"),
        C: ("missing", "MissingFile"),
        "ddddddddddd": ("checksum", "ChecksumMismatch"),
        "eeeeeeeeeee": ("no-file", "MissingFile"),
    }


def test_an_archive_with_no_catalog_has_nothing_to_verify(tmp_path: Path) -> None:
    assert verify_archive(tmp_path / "archive") == []

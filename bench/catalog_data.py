"""Synthetic catalog data for bench_catalog.py: Zipf-distributed text, videos, outcomes, tails."""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

BATCH = 10_000


# -- synthetic data ---------------------------------------------------------------------------


class Words:
    """A Zipf-distributed vocabulary of pronounceable made-up words."""

    def __init__(self, rng: random.Random, size: int = 50_000) -> None:
        syll = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["th", "sh", "qu", "ng"]
        seen: set[str] = set()
        while len(seen) < size:
            seen.add("".join(rng.choice(syll) for _ in range(rng.randint(1, 4))))
        self.words = sorted(seen, key=lambda w: (len(w), w))
        rng.shuffle(self.words)
        self.cum = list(accumulate(1.0 / (i + 1) ** 1.05 for i in range(size)))
        self.rng = rng

    def pick(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum, k=k)

    def at_rank(self, rank: int) -> str:
        return self.words[rank]


def _text(words: Words, rng: random.Random, lo: int, hi: int) -> str:
    out = words.pick(rng.randint(lo, hi))
    for i in range(0, len(out), 15):
        roll = rng.random()
        if roll < 0.2:
            out[i] = str(rng.randint(0, 99_999))
        elif roll < 0.25:
            out[i] = f"https://example.com/{rng.choice(out)}/{rng.randint(0, 10**6)}"
    return " ".join(out)


def make_videos(n: int, seed: int = 7) -> tuple[Words, list[str], list[str]]:
    """The vocabulary, channel names and tag names used for n videos."""
    rng = random.Random(seed)
    words = Words(rng)
    channels = [" ".join(w.capitalize() for w in words.pick(2)) for _ in range(max(10, n // 50))]
    tags = [" ".join(words.pick(rng.randint(1, 2))) for _ in range(5000)]
    return words, channels, tags


def video_id(i: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    out = []
    x = i * 2654435761 % (64**11)
    for _ in range(11):
        out.append(alphabet[x % 64])
        x //= 64
    return "".join(out)


def build(root: Path, n: int, quiet: bool = False) -> dict:
    """Write n videos (metadata, outcomes, some history, playlists) through the public API."""
    from ytarchive.catalog import Catalog
    from ytarchive.models import DownloadResult, PlaylistInfo, PlaylistItem, VideoMetadata

    rng = random.Random(11)
    words, channels, tags = make_videos(n)
    chan_cum = list(accumulate(1.0 / (i + 1) for i in range(len(channels))))
    catalog = Catalog(root)
    epoch = datetime(2010, 1, 1, tzinfo=UTC)
    start = time.perf_counter()
    rows = 0
    for lo in range(0, n, BATCH):
        metas, outcomes = [], []
        for i in range(lo, min(n, lo + BATCH)):
            vid = video_id(i)
            ch = rng.choices(range(len(channels)), cum_weights=chan_cum)[0]
            fetched = epoch + timedelta(days=5000, seconds=i)
            metas.append(
                VideoMetadata.model_construct(
                    video_id=vid,
                    title=" ".join(w.capitalize() for w in words.pick(rng.randint(4, 10))),
                    description=_text(words, rng, 20, 120),
                    channel_id=f"UC{ch:022d}",
                    channel_title=channels[ch],
                    published_at=epoch + timedelta(seconds=rng.randint(0, 15 * 365 * 86400)),
                    duration_seconds=rng.randint(30, 3 * 3600),
                    view_count=rng.randint(0, 10**7),
                    like_count=rng.randint(0, 10**5),
                    comment_count=rng.randint(0, 10**4),
                    tags=rng.sample(tags, rng.randint(3, 8)),
                    category_id=str(rng.randint(1, 30)),
                    thumbnail_url=f"https://i.ytimg.com/vi/{vid}/hqdefault.jpg",
                    source="youtube_api",
                    fetched_at=fetched,
                    webpage_url=None,
                    availability="available",
                    unavailable_reason=None,
                )
            )
            roll = rng.random()
            when = fetched + timedelta(minutes=5)
            if roll < 0.08:  # an earlier failure, then the real outcome
                outcomes.append(_outcome(DownloadResult, vid, "failed", when - timedelta(hours=1)))
            status = "archived" if roll < 0.85 else ("unavailable" if roll < 0.95 else "failed")
            outcomes.append(_outcome(DownloadResult, vid, status, when, rng))
            if roll > 0.97:  # a later metadata snapshot (views went up)
                metas.append(
                    metas[-1].model_copy(
                        update={"view_count": 10**7 + i, "fetched_at": fetched + timedelta(days=30)}
                    )
                )
        catalog.record_metadata(metas)
        catalog.record_outcomes(outcomes)
        rows += len(metas) + len(outcomes)
        if not quiet and lo // BATCH % 10 == 0:
            print(f"  wrote {lo + BATCH:,} videos", file=sys.stderr)
    n_playlists = max(1, n // 1000)
    for p in range(n_playlists):
        items = [
            PlaylistItem(playlist_id=f"PL{p:08d}", position=j, video_id=video_id(rng.randrange(n)))
            for j in range(min(200, n))
        ]
        info = PlaylistInfo(
            playlist_id=f"PL{p:08d}",
            title=" ".join(words.pick(3)),
            item_count=len(items),
            source="youtube_api",
        )
        catalog.record_playlist(info, items)
    write_s = time.perf_counter() - start
    return {
        "rows": rows,
        "write_seconds": write_s,
        "words": words,
        "channels": channels,
        "tags": tags,
    }


def _outcome(cls, vid: str, status: str, when: datetime, rng: random.Random | None = None):
    if status == "archived":
        assert rng is not None
        height = rng.choice([360, 480, 720, 1080])
        return cls(
            video_id=vid,
            status=status,
            file_path=f"videos/Some title [{vid}].mp4",
            bytes=rng.randint(5, 500) * 1_000_000,
            width=height * 16 // 9,
            height=height,
            format="mp4",
            quality="best",
            flow_run_id="bench",
            recorded_at=when,
        )
    reason = "Private video" if status == "unavailable" else "HTTP Error 500"
    return cls(video_id=vid, status=status, reason=reason, flow_run_id="bench", recorded_at=when)


def add_tail(root: Path, n: int, videos: int = 10_000) -> dict:
    """Newer rows as archive runs write them, timing every write call: half new videos, half
    old ones fetched again; per video a metadata row (50 a call, as metadata tasks do) and an
    outcome (one call each, as download tasks do). 2 x videos rows in videos + videos/50 files."""
    from ytarchive.catalog import Catalog
    from ytarchive.models import DownloadResult, VideoMetadata

    rng = random.Random(5)
    words, channels, _ = make_videos(n)
    catalog = Catalog(root)
    times: list[float] = []

    def timed(call, records) -> None:
        t0 = time.perf_counter()
        call(records)
        times.append((time.perf_counter() - t0) * 1000)

    for lo in range(0, videos, 50):
        ids = [video_id(n + k if k % 2 else rng.randrange(n)) for k in range(lo, lo + 50)]
        metas = [
            VideoMetadata(
                video_id=vid,
                title=" ".join(words.pick(6)),
                description=_text(words, rng, 20, 120),
                channel_title=rng.choice(channels),
                published_at=datetime.now(UTC),
                source="yt_dlp",
            )
            for vid in ids
        ]
        timed(catalog.record_metadata, metas)
        for vid in ids:
            outcome = _outcome(DownloadResult, vid, "archived", datetime.now(UTC), rng)
            timed(catalog.record_outcomes, [outcome])
    times.sort()
    return {
        "calls": len(times),
        "rows": 2 * videos,
        "median_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[int(0.99 * (len(times) - 1))], 1),
        "max_ms": round(times[-1], 1),
    }

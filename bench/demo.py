"""Try YTArchive with no internet: archive a playlist from loopback stand-ins of YouTube.

Starts the test bed's Data API v3 stand-in and DASH media server on 127.0.0.1, makes a
12-video playlist (one private, one deleted), points YTArchive at them, and runs the real
`ytarchive playlist download` (real Prefect, yt-dlp, ffmpeg) followed by `storage stats`.
Everything goes under ./demo-archive unless --output says otherwise.

Usage: uv run python bench/demo.py [--videos 12] [--quality 720p] [--output DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.testbed.api_server import ApiServer  # noqa: E402
from tests.testbed.library import Library  # noqa: E402
from tests.testbed.media import generate_dash_media  # noqa: E402
from tests.testbed.media_server import MediaServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--quality", default="720p")
    parser.add_argument("--output", type=Path, default=Path("demo-archive"))
    args = parser.parse_args()

    media = generate_dash_media(Path(tempfile.gettempdir()) / "ytarchive-demo-media")
    library = Library()
    playlist = library.make_playlist(
        args.videos, title="YTArchive demo", private=(3,), deleted=(7,)
    )
    with MediaServer(media, library) as media_server, ApiServer(library) as api:
        env = {
            **os.environ,
            "YTARCHIVE_OUTPUT_DIR": str(args.output.resolve()),
            "YTARCHIVE_YOUTUBE_API_URL": api.base_url,
            "YTARCHIVE_VIDEO_URL_TEMPLATE": media_server.url_template,
            "YOUTUBE_API_KEY": api.api_key,
        }
        url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
        print(f"$ uv run ytarchive playlist download {url} --quality {args.quality}", flush=True)
        run = [sys.executable, "-m", "ytarchive"]
        code = subprocess.call([*run, "playlist", "download", url, "-q", args.quality], env=env)
        print("$ uv run ytarchive storage stats", flush=True)
        subprocess.call([*run, "storage", "stats"], env=env)
    print(
        f"\nThe archive is in {args.output}/: `uv run ytarchive storage list -o {args.output}`"
        " shows it; `uv run ytarchive server stop` stops the Prefect server."
    )
    return code


if __name__ == "__main__":
    sys.exit(main())

"""The run-wide brake as a user meets it: a rate-limited playlist, its plan, and the retry."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.helpers import assert_no_partials, video_files
from tests.helpers import cli_in_process as _cli

pytestmark = pytest.mark.slow

VIDEOS = 40
MAX_REQUESTS = 30  # the bound the issue sets on a run the site refuses from the start


def test_a_rate_limited_playlist_stops_into_one_plan_that_retry_archives(cli_env, capsys) -> None:
    bed = cli_env.testbed
    ids = [bed.lib.add_video(title=f"Clip {i}").video_id for i in range(VIDEOS)]
    playlist = bed.lib.add_playlist(title="Forty", video_ids=ids)
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    bed.media.refuse_all(status=429, retry_after=1)  # from the manifest on, every request

    began = time.monotonic()
    code, out, err = _cli(capsys, "playlist", "download", url, "-q", "360p")
    seconds = time.monotonic() - began
    with capsys.disabled():  # a figure for the report, not an assertion
        print(f"\nrate-limited run: {seconds:.1f} s, {bed.media.request_count()} media requests")
    assert code == 1
    assert bed.media.refused_requests(kind=None) == bed.media.request_count() <= MAX_REQUESTS
    run_id = re.search(r"Run playlist-\S+ \(([0-9a-f-]{36})\)", out).group(1)  # type: ignore[union-attr]
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(
        r"Error: rate limited by the site: \d+ refused in a row; "
        rf"try later: ytarchive recovery retry {run_id[:8]}",
        last,
    ), last
    assert video_files(cli_env.output_dir) == []

    code, out, _ = _cli(capsys, "recovery", "list", "--format", "json")
    [plan] = json.loads(out)
    assert plan["plan_id"] == run_id and sorted(plan["video_ids"]) == sorted(ids)
    code, out, _ = _cli(capsys, "recovery", "show", run_id[:8], "--format", "json")
    items = json.loads(out)["items"]
    classes = {i["error_class"] for i in items}
    assert classes == {"RateLimited", "Braked"}, classes  # refused, or never tried
    assert all(i["message"] for i in items)
    code, out, _ = _cli(capsys, "recovery", "show", run_id[:8])
    assert "reason" in out and "HTTP Error 429" in out and "not tried: rate limited" in out

    bed.media.stop_refusing()  # the site serves us again
    code, out, err = _cli(capsys, "recovery", "retry", run_id[:8])
    assert code == 0, err
    assert len(video_files(cli_env.output_dir)) == VIDEOS
    from ytarchive.catalog import Catalog

    outcomes = Catalog(cli_env.output_dir).latest_outcomes(ids)
    assert {o.status for o in outcomes.values()} == {"archived"} and len(outcomes) == VIDEOS
    code, out, err = _cli(capsys, "recovery", "list", "--format", "json")
    assert json.loads(out) == []
    assert_no_partials(cli_env.output_dir)

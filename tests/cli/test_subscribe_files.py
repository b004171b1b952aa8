"""`ytarchive subscribe --subtitles/--convert-subs/--output-template`: kept in the deployment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ytarchive.cli import main


@pytest.fixture
def no_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PREFECT_HOME and no PREFECT_API_URL: any server start would leave its state here."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    return home


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--output-template", "%(title)s.%(ext)s"], "must contain %(id)s"),
        (["--subtitles", "en,??"], "--subtitles: not a language code"),
        (["--convert-subs", "doc"], "--convert-subs: 'doc' is not one of"),
    ],
)
def test_bad_file_options_exit_2_before_anything_starts(
    extra: list[str], message: str, no_server: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "https://www.youtube.com/playlist?list=PLsubscribeFilesBad01"
    with pytest.raises(SystemExit) as exc:
        main(["subscribe", url, *extra])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err and len(err.strip().splitlines()) == 1
    assert list(no_server.iterdir()) == []  # no server started, nothing written


@pytest.mark.slow
def test_the_deployment_holds_the_file_options_as_run_env(
    prefect_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.client.orchestration import get_client

    from flows.subscribed import read_deployment

    url = "https://www.youtube.com/playlist?list=PLsubscribeFilesTest1"
    template = "%(channel)s/%(title)s [%(id)s].%(ext)s"
    argv = ["subscribe", url, "--subtitles", "en,de", "--convert-subs", "srt"]
    code = main([*argv, "--output-template", template, "-f", "json"])
    created = json.loads(capsys.readouterr().out)
    assert code == 0
    try:
        with get_client(sync_client=True) as client:
            deployment = read_deployment(client, created["name"])
        assert deployment.job_variables["env"] == {
            "YTARCHIVE_SUBTITLES": "en,de",
            "YTARCHIVE_CONVERT_SUBS": "srt",
            "YTARCHIVE_OUTPUT_TEMPLATE": template,
        }
        assert main(["subscribe", url, "-f", "json"]) == 0  # again, without them: dropped
        capsys.readouterr()
        with get_client(sync_client=True) as client:
            deployment = read_deployment(client, created["name"])
        assert not (deployment.job_variables or {}).get("env")
    finally:
        assert main(["unsubscribe", url]) == 0

"""Our YoutubeDL does yt-dlp's per-instance set-up once a process, and behaves as yt-dlp's own."""

from __future__ import annotations

import datetime
import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ytarchive.config import Settings
from ytarchive.downloader import download_video
from ytarchive.downloader.ydl import shared_ssl_context, ydl_class


def _extractors(ydl) -> list[tuple[str, bool]]:
    """Each loaded extractor's key, in order, and whether it is an instance (yt-dlp's "end")."""
    return [(key, not isinstance(ie, type)) for key, ie in ydl._ies.items()]


@pytest.mark.parametrize(
    "allowed",
    [None, ["generic"], ["default", "-generic"], ["youtube.*", "vimeo"], ["all"]],
)
def test_the_extractors_are_yt_dlps_own_choice_in_its_order(allowed) -> None:
    from yt_dlp import YoutubeDL

    options = {"quiet": True} if allowed is None else {"quiet": True, "allowed_extractors": allowed}
    with YoutubeDL(dict(options)) as theirs, ydl_class()(dict(options)) as first:
        expected = _extractors(theirs)
        assert _extractors(first) == expected
        with ydl_class()(dict(options)) as second:  # the remembered choice
            assert _extractors(second) == expected
            for ydl in (first, second):  # "end" (in "all" only) is each one's own instance
                assert all(ie._downloader is ydl for ie in ydl._ies_instances.values())
    assert (allowed == ["all"]) == (("UnsupportedURL", True) in expected)


def test_a_bad_allowed_extractors_regex_is_yt_dlps_own_error() -> None:
    from yt_dlp import YoutubeDL

    messages = []
    for cls in (YoutubeDL, ydl_class()):
        with pytest.raises(ValueError) as caught:
            cls({"quiet": True, "allowed_extractors": ["gen(eric"]})
        messages.append(str(caught.value))
    assert messages[0] == messages[1] and "Wrong regex for allowed_extractors" in messages[0]


def test_without_auto_init_no_extractor_is_loaded() -> None:
    with ydl_class()({"quiet": True}, auto_init=False) as ydl:
        assert ydl._ies == {}


# -- one TLS context a process, still verifying ------------------------------------------------


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def https_url(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTPS server whose certificate no CA signed."""
    cert, key = _self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_every_youtubedl_shares_one_tls_context_and_it_still_verifies(https_url) -> None:
    from yt_dlp.networking.exceptions import CertificateVerifyError

    assert shared_ssl_context() is shared_ssl_context()
    assert shared_ssl_context().verify_mode == ssl.CERT_REQUIRED
    assert shared_ssl_context(verify=False) is not shared_ssl_context()
    for options in ({}, {"nocheckcertificate": True}, {}):  # verify, not, and verify again
        with ydl_class()({"quiet": True, **options}) as ydl:
            if options:
                assert ydl.urlopen(https_url).read() == b"hello"
            else:
                with pytest.raises(CertificateVerifyError):
                    ydl.urlopen(https_url)


# -- --print still prints, at the stage it names ------------------------------------------------


@pytest.mark.slow
def test_a_forceprint_option_still_prints_the_formats_table(ytarchive_env, capfd) -> None:
    video = ytarchive_env.testbed.lib.add_video(title="Printed")
    printed = {"after_move": ["moved %(id)s", "%(formats_table)s"], "pre_process": ["pre %(id)s"]}
    settings = Settings(ytdlp={"forceprint": printed, "forceid": True})
    assert download_video(video.video_id, settings, "360p").status == "archived"
    lines = capfd.readouterr().out.splitlines()  # yt-dlp prints to stdout, as its --print does
    assert lines[:3] == ["pre manifest", "manifest", "moved manifest"]  # --get-id's is 2nd
    assert lines[3].startswith("ID") and "RESOLUTION" in lines[3]
    assert any(line.startswith("360p") and "640x360" in line for line in lines[4:])


# -- the warm-up a forking process does once ----------------------------------------------------

_WARM_CHECK = """
from yt_dlp.extractor import gen_extractor_classes
from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor
from ytarchive.downloader import ffmpeg_location, warm_up

warm_up(every_site=True)
left = [ie for ie in gen_extractor_classes() if ie._VALID_URL and "_VALID_URL_RE" not in vars(ie)]
print(len(left), ffmpeg_location() in FFmpegPostProcessor._version_cache)
"""


def test_warm_up_leaves_every_url_pattern_compiled_and_ffmpegs_version_known() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _WARM_CHECK], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0", "True"]  # what each forked run no longer does itself


def _formats() -> list[dict]:
    """A video's DASH offer: three video-only heights and one audio stream."""
    stream = {"ext": "mp4", "protocol": "https"}
    video = [
        {**stream, "format_id": f"v{h}", "height": h, "width": h * 16 // 9, "vcodec": "avc1",
         "acodec": "none", "tbr": h * 2.0, "url": f"http://127.0.0.1/{h}"}
        for h in (360, 720, 1080)
    ]  # fmt: skip
    audio = {**stream, "format_id": "a", "vcodec": "none", "acodec": "mp4a", "abr": 128.0,
             "ext": "m4a", "url": "http://127.0.0.1/a"}  # fmt: skip
    return [*video, audio]


def _best_height(sorter, formats: list[dict]) -> int:
    video = [f for f in formats if f.get("height")]
    return max(video, key=sorter.calculate_preference)["height"]


def test_a_720p_sort_keeps_its_limit_while_a_best_sort_begins_beside_it() -> None:
    """Two videos sorted at once in one process (the web app's 720p run and best run side by
    side): the 720p one's sorter is made, the best one's is made, then the first sorts.

    yt-dlp's FormatSorter keeps its per-field settings on the class: its 720p sort then picks
    1080p (what CI caught as a 720p video archived at 1080p). Ours keeps its own."""
    from yt_dlp.utils import FormatSorter

    from ytarchive.downloader.ydl import own_settings_sorter

    with (
        ydl_class()({"quiet": True, "format_sort": ["res:720"]}) as at_720,
        ydl_class()({"quiet": True}) as best,
    ):
        theirs = FormatSorter(at_720, [])
        FormatSorter(best, [])
        assert _best_height(theirs, _formats()) == 1080, "yt-dlp's sorter no longer shares it"

        ours = own_settings_sorter()(at_720, [])
        own_settings_sorter()(best, [])
        assert _best_height(ours, _formats()) == 720
        assert _best_height(own_settings_sorter()(best, []), _formats()) == 1080

        info = {"id": "x", "formats": _formats()}
        at_720.sort_formats(info)  # our YoutubeDL sorts with it, as yt-dlp would: best last
        assert [f["format_id"] for f in info["formats"] if f.get("height")][-1] == "v720"

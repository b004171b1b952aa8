"""Loopback stand-ins for YouTube: a DASH media server and a Data API v3 server, one library."""

from tests.testbed.api_server import DEFAULT_API_KEY, ApiServer
from tests.testbed.closed_port import ClosedPort
from tests.testbed.cookies import COOKIE_NAME, CookieVideo, write_cookies_txt
from tests.testbed.library import Channel, Library, Playlist, Video
from tests.testbed.media import DashMedia, ffmpeg_exe, generate_dash_media, probe
from tests.testbed.media_server import MediaServer
from tests.testbed.netguard import NetworkGuardError

__all__ = [
    "COOKIE_NAME",
    "DEFAULT_API_KEY",
    "ApiServer",
    "Channel",
    "ClosedPort",
    "CookieVideo",
    "DashMedia",
    "Library",
    "MediaServer",
    "NetworkGuardError",
    "Playlist",
    "Video",
    "ffmpeg_exe",
    "generate_dash_media",
    "probe",
    "write_cookies_txt",
]

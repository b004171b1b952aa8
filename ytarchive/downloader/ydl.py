"""The YoutubeDL we build: yt-dlp's own, with its per-instance set-up done once a process."""

from __future__ import annotations

import copy
import os
import re
import ssl
import threading
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from typing import Any

__all__ = ["default_extractors", "shared_ssl_context", "ydl_class"]

_lock = threading.Lock()
_chosen: dict[tuple[tuple[str, ...], tuple[Any, ...]], tuple[Any, ...]] = {}
_contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}


def default_extractors(allowed: Iterable[str], classes: list[Any]) -> tuple[Any, ...]:
    """The extractor classes a YoutubeDL with these `allowed_extractors` loads, in order
    (UnsupportedURLIE, yt-dlp's "end", last): yt-dlp's own selection, remembered per process.

    yt-dlp makes it anew for every YoutubeDL (about 80 ms of CPU: the "default" alias expands
    to every enabled name, each then looked up in a list of ~1,800). The answer depends only on
    the option and on the registered extractor classes (plugins may add some), so both are the
    key. A bad regex raises yt-dlp's ValueError, as its constructor would.
    """
    from yt_dlp.extractor.common import UnsupportedURLIE
    from yt_dlp.utils import orderedSet_from_options

    key = (tuple(allowed), tuple(classes))
    with _lock:
        found = _chosen.get(key)
    if found is not None:
        return found
    all_ies = {**{ie.IE_NAME.lower(): ie for ie in classes}, "end": UnsupportedURLIE}
    aliases = {
        "all": list(all_ies),
        "default": [name for name, ie in all_ies.items() if ie._ENABLED],
    }
    try:
        names = orderedSet_from_options(key[0], aliases, use_regex=True)
    except re.error as exc:  # yt-dlp's own message for it
        raise ValueError("Wrong regex for allowed_extractors: " + str(exc.pattern)) from None
    chosen = tuple(all_ies[name] for name in names)
    with _lock:
        _chosen[key] = chosen
    return chosen


def shared_ssl_context(
    verify: bool = True,
    legacy_support: bool = False,
    use_certifi: bool = True,
    **client_cert: Any,
) -> ssl.SSLContext:
    """yt-dlp's make_ssl_context, made once a process for each set of arguments.

    Each YoutubeDL's request handler builds its own and loads the CA bundle into it (about
    45 ms of CPU, once a download). An SSLContext is configuration and may be shared by any
    number of connections in any thread (yt-dlp's own fragment threads share one already).
    A client certificate (a file the user may change) is read anew each time, as before.
    """
    from yt_dlp.networking._helper import make_ssl_context

    if any(client_cert.values()):
        return make_ssl_context(verify, legacy_support=legacy_support, use_certifi=use_certifi,
                                **client_cert)  # fmt: skip
    key = (verify, legacy_support, use_certifi, os.environ.get("SSLKEYLOGFILE") or None)
    with _lock:
        context = _contexts.get(key)
        if context is None:
            context = _contexts[key] = make_ssl_context(
                verify=verify, legacy_support=legacy_support, use_certifi=use_certifi
            )
    return context


@cache
def _reusing_handler(handler: type[Any]) -> type[Any]:
    """A subclass of one of yt-dlp's request handlers (same name, so the same RH_KEY and
    preferences) whose TLS context comes from shared_ssl_context."""

    def _make_sslcontext(self: Any, legacy_ssl_support: bool | None = None) -> ssl.SSLContext:
        legacy = self.legacy_ssl_support if legacy_ssl_support is None else legacy_ssl_support
        return shared_ssl_context(
            verify=self.verify,
            legacy_support=legacy,
            use_certifi=not self.prefer_system_certs,
            **self._client_cert,
        )

    # RequestHandler._make_sslcontext is the one place yt-dlp's handlers get a context from;
    # yt-dlp has no option to reuse one, so the subclass overrides this (private) method.
    if not callable(getattr(handler, "_make_sslcontext", None)):  # pragma: no cover
        return handler
    attrs = {"_make_sslcontext": _make_sslcontext, "__module__": handler.__module__}
    return type(handler.__name__, (handler,), attrs)


_PRINT_FLAGS = (
    "forcetitle", "forceid", "forceurl", "forcethumbnail", "forcedescription", "forcefilename",
    "forceduration", "forceformat", "forcejson",
)  # fmt: skip


@lru_cache(maxsize=1)
def own_settings_sorter() -> type[Any]:
    """yt-dlp's FormatSorter, each instance with its own copy of the per-field settings.

    FormatSorter keeps those settings (the `res:720` limit of `--quality 720p` among them) in a
    dict on the class, which every instance's evaluate_params updates in place. Two sorts at
    once in one process (the web app or the Python API running a 720p and a best run side by
    side) read each other's limits, and the 720p video was archived at 1080p. The copy is made
    from the settings as this process first saw them; the sorting itself is yt-dlp's.
    """
    from yt_dlp.utils import FormatSorter

    pristine = copy.deepcopy(FormatSorter.settings)

    class OwnSettingsFormatSorter(FormatSorter):  # type: ignore[misc]
        def __init__(self, ydl: Any, field_preference: Any) -> None:
            self.settings = copy.deepcopy(pristine)
            super().__init__(ydl, field_preference)

    return OwnSettingsFormatSorter


@lru_cache(maxsize=1)
def ydl_class() -> type[Any]:
    """yt-dlp's YoutubeDL, doing once a process what it otherwise does for every instance.

    - the default extractors are chosen once (default_extractors) and added with yt-dlp's own
      `add_info_extractor`, the constructor's `auto_init=False` path;
    - its request handlers share one TLS context with the CA bundle loaded (shared_ssl_context);
    - `_forceprint`, which yt-dlp calls at every post-processing stage and which renders the
      formats, thumbnails and subtitles tables each time, is skipped when there is nothing to
      print at that stage (no --print, --print-to-file or --get-* option);
    - `fetched`, when set, is called once as post-processing begins: every stream, subtitle
      and thumbnail is fetched then, and what is left (the merge, the fix-ups, moving the
      files) is local work, so the caller lets the next video's download begin;
    - each sort of the formats has its own FormatSorter settings (own_settings_sorter): two
      videos sorted at once in one process at different qualities keep their own limits.
    Options, extraction, downloads, post-processing and output are yt-dlp's own, unchanged.
    """
    from yt_dlp import YoutubeDL
    from yt_dlp.extractor import gen_extractor_classes
    from yt_dlp.extractor.common import UnsupportedURLIE

    sorter = own_settings_sorter()

    class ArchiveYoutubeDL(YoutubeDL):  # type: ignore[misc]
        fetched: Callable[[], None] | None = None

        def __init__(self, params: dict[str, Any] | None = None, auto_init: Any = True) -> None:
            super().__init__(params, auto_init=False)
            if not auto_init:
                return
            if auto_init != "no_verbose_header":
                self.print_debug_header()
            allowed = self.params.get("allowed_extractors", ["default"])
            chosen = default_extractors(allowed, gen_extractor_classes())
            for ie in chosen:  # as add_default_info_extractors adds them: "end" an instance
                self.add_info_extractor(UnsupportedURLIE() if ie is UnsupportedURLIE else ie)
            self.write_debug(f"Loaded {len(chosen)} extractors")

        def build_request_director(self, handlers: Iterable[Any], preferences: Any = None) -> Any:
            reusing = [_reusing_handler(handler) for handler in handlers]
            return super().build_request_director(reusing, preferences)

        def sort_formats(self, info_dict: dict[str, Any]) -> None:
            # YoutubeDL.sort_formats, with a sorter whose settings are its own (see above).
            formats = self._get_formats(info_dict)
            fields = info_dict.get("_format_sort_fields") or []
            formats.sort(key=sorter(self, fields).calculate_preference)

        def post_process(self, filename: Any, info: Any, files_to_move: Any = None) -> Any:
            hook, self.fetched = self.fetched, None
            if hook is not None:
                hook()
            return super().post_process(filename, info, files_to_move)

        def _forceprint(self, key: str, info_dict: dict[str, Any] | None) -> Any:
            # yt-dlp's _forceprint builds the copy that --print and --get-* read; with neither
            # set for this stage its work is discarded (run_all_pps ignores the result; for
            # "video" the --get-* fields read it only when set). No public option avoids it.
            if info_dict is None or self._prints(key):
                return super()._forceprint(key, info_dict)
            return dict(info_dict)

        def _prints(self, key: str) -> bool:
            params = self.params
            if params["forceprint"].get(key) or params["print_to_file"].get(key):
                return True
            return key == "video" and any(params.get(flag) for flag in _PRINT_FLAGS)

    return ArchiveYoutubeDL

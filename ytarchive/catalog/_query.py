"""The catalog's first list page and word search over a snapshot."""

from __future__ import annotations

import json
from typing import Any

from ytarchive.catalog._db import fetch, gc_paused
from ytarchive.catalog._files import Derived
from ytarchive.catalog._schema import ARCHIVE_COLUMNS, KEYS, LIST_ORDER, MAX_RANGES, STATS_KEYS
from ytarchive.catalog._sql import Sql, literal, scan, search_text


def first_rows(con: Any, sql: Sql, cond: str, want: int, by_status: bool) -> list[dict]:
    """The first `want` archive rows in list order: stored rows are already in that order (a
    row's position `rid` is its rank), so only their first positions are read; rows of videos
    changed since the compaction are computed, and merged in by their keys before any row is
    read whole."""
    derived = sql.state.derived
    assert derived is not None
    stored = derived.table("archive")
    tail = sql.archive_tail()
    keep = "video_id NOT IN (SELECT video_id FROM _tail_ids)" if tail else "true"
    window = ""
    if not by_status:
        extra = con.execute("SELECT count(*) FROM _tail_ids").fetchone()[0] if tail else 0
        window = f" AND rid < {int(want + extra)}"
    keys = con.execute(
        f"SELECT rid, video_id, epoch_us(published_at) FROM {stored} "
        f"WHERE {cond} AND {keep}{window} ORDER BY rid LIMIT {int(want)}"
    ).fetchall()
    if tail:
        live = con.execute(
            f"SELECT NULL, video_id, epoch_us(published_at) FROM ({sql.changed_rows()}) "
            f"WHERE {cond} ORDER BY {LIST_ORDER} LIMIT {int(want)}"
        ).fetchall()
        keys = sorted(keys + live, key=lambda k: (k[2] is None, -(k[2] or 0), k[1]))[:want]
    rids = [str(k[0]) for k in keys if k[0] is not None]
    changed = [literal(k[1]) for k in keys if k[0] is None]
    rows: dict[str, dict] = {}
    if rids:
        query = f"SELECT * FROM {stored} WHERE rid IN ({', '.join(rids)})"
        rows.update((r["video_id"], r) for r in fetch(con, query, ARCHIVE_COLUMNS))
    if changed:
        query = sql.changed_rows(f"video_id IN ({', '.join(changed)})")
        rows.update((r["video_id"], r) for r in fetch(con, query, ARCHIVE_COLUMNS))
    return [rows[k[1]] for k in keys]


def sum_stats(con: Any, parts: list[str]) -> dict:
    """stats() from `parts`, rows of STATS_KEYS per channel_title to add up: the totals, and
    the channels with videos, most first. The channels come as one JSON text of arrays, parsed
    in C: at a million videos there are 16,000 of them, and DuckDB hands over rows at ~0.3 us a
    value, which was most of the time stats() took."""
    sums = ", ".join(f"sum({k})::BIGINT AS {k}" for k in STATS_KEYS)
    keys = ", ".join(STATS_KEYS)
    row = con.execute(
        f"WITH per AS (SELECT channel_title, {sums} FROM ({' UNION ALL '.join(parts)}) "
        "GROUP BY channel_title HAVING sum(videos) > 0) "
        f"SELECT {sums}, string_agg(json_array(channel_title, {keys})::VARCHAR, ',' "
        "ORDER BY videos DESC, channel_title NULLS LAST) FROM per"
    ).fetchone()
    summary = dict(zip(STATS_KEYS, (int(v or 0) for v in row[:-1]), strict=True))
    names = ("channel_title", *STATS_KEYS)
    with gc_paused():  # 32,000 new containers would set off the collector again and again
        channels = [dict(zip(names, r, strict=True)) for r in json.loads(f"[{row[-1] or ''}]")]
    return {**summary, "channels": channels}


# -- search -----------------------------------------------------------------------------------


class Search:
    """One search: the word index answers for the base, reading the text answers for the rest.

    A word matches a video when its lower-cased title, description, tags or channel hold the
    word as a substring. The index lists every whitespace-separated token of that text, and a
    query word (which has no whitespace) is a substring of the text exactly when it is a
    substring of one token, so matching the vocabulary gives the same answer as reading it all.
    Token ids follow token order and the postings are sorted by token id, so the tokens that hold
    a word form a few id ranges, and the scan skips every block of postings outside them.
    """

    def __init__(self, con: Any, sql: Sql, words: list[str], limit: int) -> None:
        self.con, self.sql, self.limit = con, sql, limit
        self.cur = "_cur"
        query = "SELECT DISTINCT lower(w) AS w FROM unnest(?::VARCHAR[]) t(w) ORDER BY w"
        self.words = [r[0] for r in con.execute(query, [words]).fetchall()]

    def run(self) -> list[dict]:
        derived = self.sql.state.derived
        if derived is None:
            found = self._scan(texts(self.sql.latest("videos")))
        else:
            tail = bool(self.sql.state.files["videos"].tail)
            if tail:
                self._make_cur()
            found = self._indexed(derived, tail)
            if tail:
                found += self._scan(f"SELECT * FROM {self.cur}")
        found.sort(key=lambda f: (not f[1], f[2] is None, -(f[2] or 0), f[0]))
        found = found[: self.limit]
        if not found:
            return []
        rows = self._rows(found)
        return [
            {**rows.get(vid, {"video_id": vid}), "title_match": bool(title_match)}
            for vid, title_match, _, _ in found
        ]

    def _rows(self, found: list[tuple]) -> dict[str, dict]:
        """Archive rows of the results: stored ones by position, changed ones computed."""
        derived = self.sql.state.derived
        ids = [f[0] for f in found]
        changed = set(ids)
        rows: dict[str, dict] = {}
        if derived is not None:
            changed = {f[0] for f in found if f[3] is None}
            if self.sql.archive_tail():
                listed = ", ".join(literal(i) for i in ids)
                query = f"SELECT video_id FROM _tail_ids WHERE video_id IN ({listed})"
                changed |= {r[0] for r in self.con.execute(query).fetchall()}
            rids = [str(int(f[3])) for f in found if f[3] is not None and f[0] not in changed]
            if rids:
                query = f"SELECT * FROM {derived.table('archive')} WHERE rid IN ({', '.join(rids)})"
                rows.update((r["video_id"], r) for r in fetch(self.con, query, ARCHIVE_COLUMNS))
        if changed:
            where = "video_id IN (" + ", ".join(literal(i) for i in sorted(changed)) + ")"
            # every changed id has rows newer than the derived archive (it is in _tail_ids)
            query = self.sql.changed_rows(where) if derived else self.sql.live_archive(where)
            live = fetch(self.con, query, ARCHIVE_COLUMNS)
            rows.update((r["video_id"], r) for r in live)
        return rows

    # -- reading the text -------------------------------------------------------------------

    def _all_in(self, expr: str) -> str:
        return " AND ".join(f"contains({expr}, {literal(w)})" for w in self.words)

    def _scan(self, videos: str) -> list[tuple]:
        """(video_id, title_match, published_us, None) of the best matching rows of `videos`
        (rows of video_id, published_at, lt and txt: see texts)."""
        in_title = self._all_in("coalesce(lt, '')")
        query = (
            f"WITH v AS ({videos}) "
            f"SELECT video_id, {in_title} AS title_match, "
            "epoch_us(published_at) AS published, NULL AS rid FROM v "
            f"WHERE {self._all_in('txt')} "
            "ORDER BY title_match DESC, published_at DESC NULLS LAST, video_id "
            f"LIMIT {int(self.limit)}"
        )
        return [tuple(r) for r in self.con.execute(query).fetchall()]

    def _make_cur(self) -> None:
        """Name in self.cur the search texts (see texts) of the newest metadata of the videos
        whose newest snapshot is newer than the indexed one: the tail index's table when every
        videos file is in it, else a temporary table (see current_texts)."""
        index = self.sql.state.tail_index
        if index is not None and not self.sql.state.rest("videos"):
            self.cur = index.table("cur")
            return
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE _cur AS {current_texts(self.sql)}")
        self.cur = "_cur"

    # -- the word index ---------------------------------------------------------------------

    def _indexed(self, derived: Derived, tail: bool) -> list[tuple]:
        """(video_id, title_match, published_us, rid) of the base's best matches (the index)."""
        per_word = self._token_ranges(derived)
        if any(not ranges for _, ranges in per_word):
            return []  # a word no token holds: nothing in the base matches
        keep = "true"
        if tail:
            keep = f"rid NOT IN (SELECT rid FROM {self._gone(derived)})"
        postings = derived.table("postings")
        preds = [_in_ranges(ranges) for _, ranges in sorted(per_word)]  # rarest word first
        if len(preds) == 1:
            hits = self._top_one_word(postings, preds[0], keep)
        else:
            hits = self._top_all_words(postings, preds, keep)
        if not hits:
            return []
        title_match = dict(hits)
        rids = ", ".join(str(int(r)) for r in title_match)
        rows = self.con.execute(
            "SELECT rid, video_id, epoch_us(published_at) "
            f"FROM {derived.table('archive')} WHERE rid IN ({rids})"
        ).fetchall()
        return [(vid, title_match[rid], published, rid) for rid, vid, published in rows]

    def _token_ranges(self, derived: Derived) -> list[tuple[int, list[tuple[int, int]]]]:
        """Per query word: how many postings its tokens have, and the id ranges of the tokens
        that hold it. One pass over the vocabulary, whatever the word count, and the ranges made
        there: a common word's tokens are many (tens of thousands for a channel's name in
        links), their ranges few."""
        holds = [f"contains(token, {literal(w)})" for w in self.words]
        flags, ks = ", ".join(holds), ", ".join(str(k) for k in range(len(holds)))
        rows = self.con.execute(
            f"WITH m AS (SELECT token_id, df, unnest([{flags}]) AS held, unnest([{ks}]) AS k "
            f"FROM {derived.table('vocab')} WHERE {' OR '.join(holds)}), "
            "h AS (SELECT k, token_id, df, "
            "token_id - row_number() OVER (PARTITION BY k ORDER BY token_id) AS run FROM m "
            "WHERE held) "
            "SELECT k, min(token_id) AS lo, max(token_id), sum(df) FROM h GROUP BY k, run "
            "ORDER BY k, lo"
        ).fetchall()
        per_word: list[tuple[int, list[tuple[int, int]]]] = [(0, []) for _ in self.words]
        for k, lo, hi, df in rows:
            total, ranges = per_word[k]
            ranges.append((lo, hi))
            per_word[k] = (total + int(df), ranges)
        return per_word

    def _gone(self, derived: Derived) -> str:
        """A table of the stored rids whose newer metadata self.cur holds: the tail index's
        (when every videos file is in it), else computed, beside the tail index's."""
        index = self.sql.state.tail_index
        if index is not None and self.cur == index.table("cur"):
            return index.table("gone")
        cur = f"SELECT video_id FROM {self.cur}"
        stored = f"SELECT rid FROM {derived.table('archive')} WHERE video_id IN"
        query = f"{stored} ({cur})"
        if index is not None:
            newer = f"{cur} WHERE video_id NOT IN (SELECT video_id FROM {index.table('cur')})"
            query = f"SELECT rid FROM {index.table('gone')} UNION ALL {stored} ({newer})"
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE _gone AS {query}")
        return "_gone"

    def _first_rids(self, query: str, want: int) -> list[int]:
        """The first `want` distinct rids of an ordered query (a rid can repeat, once per token
        holding the word); reads more rows until enough distinct ones or the end."""
        cap = want * 4
        while True:
            rows = [r[0] for r in self.con.execute(f"{query} LIMIT {cap}").fetchall()]
            unique = list(dict.fromkeys(rows))
            if len(unique) >= want or len(rows) < cap:
                return unique[:want]
            cap *= 4

    def _top_one_word(self, postings: str, pred: str, keep: str) -> list[tuple[int, bool]]:
        """Top-N reads, no aggregation: title matches by rid, then the rest by rid."""
        base = f"SELECT rid FROM {postings} WHERE {pred} AND {keep}"
        titles = self._first_rids(f"{base} AND in_title ORDER BY rid", self.limit)
        need = self.limit - len(titles)
        if need <= 0:
            return [(r, True) for r in titles]
        not_title = f" AND rid NOT IN ({', '.join(map(str, titles))})" if titles else ""
        rest = self._first_rids(f"{base} AND NOT in_title{not_title} ORDER BY rid", need)
        return [(r, True) for r in titles] + [(r, False) for r in rest]

    def _top_all_words(self, postings: str, preds: list[str], keep: str) -> list[tuple]:
        """Candidates from the rarest word, narrowed by each other word in turn."""
        parts = [
            f"c0 AS MATERIALIZED (SELECT rid, bool_or(in_title) AS t0 FROM {postings} "
            f"WHERE {preds[0]} AND {keep} GROUP BY rid)"
        ]
        for i, pred in enumerate(preds[1:], start=1):
            parts.append(
                f"c{i} AS MATERIALIZED (SELECT rid, bool_or(in_title) AS t{i} FROM {postings} "
                f"WHERE {pred} AND rid IN (SELECT rid FROM c{i - 1}) GROUP BY rid)"
            )
        joins = " ".join(f"JOIN c{i} USING (rid)" for i in range(1, len(preds)))
        flags = " AND ".join(f"t{i}" for i in range(len(preds)))
        return self.con.execute(
            f"WITH {', '.join(parts)} SELECT rid, {flags} AS title_match FROM c0 {joins} "
            f"ORDER BY title_match DESC, rid LIMIT {int(self.limit)}"
        ).fetchall()


def _in_ranges(ranges: list[tuple[int, int]]) -> str:
    """`token_id` in these ranges of consecutive ids (which the scan can prune by)."""
    if len(ranges) > MAX_RANGES:
        ids = ", ".join(str(i) for a, b in ranges for i in range(a, b + 1))
        return f"token_id IN ({ids})"
    terms = [f"token_id = {a}" if a == b else f"token_id BETWEEN {a} AND {b}" for a, b in ranges]
    return "(" + " OR ".join(terms) + ")"


def texts(videos: str) -> str:
    """What a search reads of metadata rows: video_id, published_at, lt (the lower-cased title),
    txt (the lower-cased text a word must be in), fetched_at and recorded_at."""
    return (
        f"SELECT video_id, published_at, lower(title) AS lt, {search_text()} AS txt, "
        f"fetched_at, recorded_at FROM ({videos})"
    )


def current_texts(sql: Sql) -> str:
    """texts() of the tail's newest metadata rows that are newer than the stored snapshot of
    the same id: those of files the tail index does not cover, compared with the snapshot it
    stores (else the derived archive's), then the tail index's own rows not overridden."""
    state = sql.state
    assert state.derived is not None
    index, rest = state.tail_index, state.rest("videos")
    if not rest:
        assert index is not None
        return f"SELECT * FROM {index.table('cur')}"
    _, order = KEYS["videos"]
    newest = f"QUALIFY row_number() OVER (PARTITION BY video_id ORDER BY {order}) = 1"
    stored = sql.stored("SELECT video_id FROM tv")
    found = (
        f"WITH tv AS (SELECT * FROM {scan(rest)} {newest}), "
        "win AS (SELECT video_id, src FROM ("
        "SELECT video_id, fetched_at, recorded_at, 1 AS src FROM tv UNION ALL "
        "SELECT video_id, metadata_fetched_at, metadata_recorded_at, 0 "
        f"FROM ({stored}) WHERE metadata_fetched_at IS NOT NULL) "
        f"QUALIFY row_number() OVER (PARTITION BY video_id ORDER BY {order}, src DESC) = 1) "
        f"{texts('SELECT tv.* FROM tv JOIN win USING (video_id) WHERE win.src = 1')}"
    )
    if index is None:
        return found
    return (
        f"WITH f AS ({found}) SELECT * FROM f UNION ALL SELECT * FROM {index.table('cur')} "
        "WHERE video_id NOT IN (SELECT video_id FROM f)"
    )

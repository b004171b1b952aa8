"""Tables that fit: plain aligned text in a pipe, columns chosen and truncated in a terminal."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any, Literal

__all__ = [
    "Column",
    "Kind",
    "columns_of",
    "human_size",
    "human_duration",
    "truncate",
    "fit",
    "rich_table",
    "print_table",
]

Kind = Literal["id", "text", "path", "number", "size", "duration", "date", "datetime"]
_FLEXIBLE = ("text", "path")  # the only kinds that are ever truncated
_RIGHT = ("number", "size", "duration")
_ELLIPSIS = "…"
_GAP = 3  # what rich puts between two columns here: padding, a blank divider, padding


@dataclass(frozen=True)
class Column:
    """One column a command declares: its row key, header, kind and how much it matters.

    priority: 1 is shown first and dropped last; when a terminal is too narrow for every
    column at its min_width, the columns with the largest priority go. min_width: the narrowest
    a text or path column is truncated to (other kinds are never truncated). blank: what a
    missing value reads as in a table (e.g. "(no channel)").
    """

    key: str
    label: str | None = None
    kind: Kind = "text"
    priority: int = 5
    min_width: int = 8
    blank: str = ""

    @property
    def header(self) -> str:
        return self.label or self.key


def columns_of(specs: Iterable[Column | str]) -> list[Column]:
    """Column specs from specs or plain keys (a key ending in `_id` is an id; later keys drop
    first)."""
    out = []
    for position, spec in enumerate(specs, start=1):
        if isinstance(spec, Column):
            out.append(spec)
        else:
            kind: Kind = "id" if spec == "id" or spec.endswith("_id") else "text"
            out.append(Column(spec, kind=kind, priority=position))
    return out


# -- cells --------------------------------------------------------------------------------------


def human_size(value: Any) -> str:
    """Bytes in SI units, as the progress bars show them: 999 B, 5.0 kB, 14.9 MB, 1.2 GB."""
    size = float(value)
    if abs(size) < 1000:
        return f"{int(size)} B"
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        size /= 1000
        if abs(size) < 999.95 or unit == "PB":
            return f"{size:.1f} {unit}"
    raise AssertionError("unreachable")


def human_duration(value: Any) -> str:
    """Seconds as a clock: 3:25, 1:02:03."""
    hours, rest = divmod(int(value), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def cell(value: Any, column: Column) -> str:
    """A value as the table shows it, on one line."""
    if value is None or value == "":
        return column.blank
    try:
        if column.kind == "size":
            return human_size(value)
        if column.kind == "duration":
            return human_duration(value)
        if column.kind in ("date", "datetime"):
            return _when(value, with_time=column.kind == "datetime")
    except (TypeError, ValueError):
        pass  # not what the kind expects: show it as it is
    if isinstance(value, datetime):
        return _when(value, with_time=True)  # times read better without seconds (all UTC)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        value = json.dumps(value, default=str)
    return " ".join(str(value).split()) if any(c in str(value) for c in "\n\r\t") else str(value)


def _when(value: Any, with_time: bool) -> str:
    moment = value if isinstance(value, (datetime, date)) else datetime.fromisoformat(str(value))
    if not isinstance(moment, datetime):
        return moment.isoformat()
    return moment.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def _width(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def truncate(text: str, width: int, keep_end: bool = False) -> str:
    """Text cut to width terminal cells with an ellipsis (at the start with keep_end)."""
    if _width(text) <= width:
        return text
    from rich.cells import get_character_cell_size

    room, kept = width - 1, []
    for char in reversed(text) if keep_end else text:
        room -= get_character_cell_size(char)
        if room < 0:
            break
        kept.append(char)
    body = "".join(reversed(kept)) if keep_end else "".join(kept)
    return _ELLIPSIS + body if keep_end else body + _ELLIPSIS


# -- layout -------------------------------------------------------------------------------------


def _grid(rows: Sequence[dict[str, Any]], columns: list[Column]) -> list[list[str]]:
    return [[cell(row.get(c.key), c) for c in columns] for row in rows]


def _numeric(rows: Sequence[dict[str, Any]], column: Column) -> bool:
    values = [row.get(column.key) for row in rows if row.get(column.key) not in (None, "")]
    return bool(values) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    )


def fit(
    columns: list[Column], grid: list[list[str]], width: int, gap: int = _GAP
) -> tuple[list[int], list[int]]:
    """Which columns to show (indexes) and their widths, so the table fits in width cells.

    Columns that are not text or path keep their whole width. While the rest do not fit at
    their min_width, the least important column goes (largest priority, then the rightmost).
    Room left is shared out so short texts show whole and the longest are truncated first,
    the more important columns keeping more.
    """
    natural = [
        max([_width(c.header), *(_width(line[i]) for line in grid)]) for i, c in enumerate(columns)
    ]
    least = [
        min(natural[i], max(c.min_width, 1)) if c.kind in _FLEXIBLE else natural[i]
        for i, c in enumerate(columns)
    ]
    shown = list(range(len(columns)))

    def needed(indexes: list[int]) -> int:
        return sum(least[i] for i in indexes) + gap * max(len(indexes) - 1, 0)

    while len(shown) > 1 and needed(shown) > width:
        shown.remove(max(shown, key=lambda i: (columns[i].priority, i)))
    widths = {i: least[i] for i in shown}
    _share(
        widths, natural, [columns[i].priority for i in range(len(columns))], width - needed(shown)
    )
    return shown, [widths[i] for i in shown]


def _share(widths: dict[int, int], natural: list[int], priority: list[int], room: int) -> None:
    """Give room to the columns still short of their natural width, the more important ones a
    bigger part (weight 1/priority); what a column cannot use goes round again."""
    while room > 0:
        wanting = [i for i in widths if widths[i] < natural[i]]
        if not wanting:
            return
        total = sum(1 / max(priority[i], 1) for i in wanting)
        given = 0
        for i in sorted(wanting, key=lambda i: (priority[i], i)):
            part = max(1, int(room / max(priority[i], 1) / total))
            give = min(natural[i] - widths[i], part, room - given)
            widths[i] += give
            given += give
        room -= given
        if given == 0:
            return


def rich_table(
    rows: Sequence[dict[str, Any]], specs: Iterable[Column | str], width: int, title: str | None
) -> Any:
    """A rich Table of the columns that fit in width cells, each cell cut to its column.

    Columns empty in every row are left out; the caption names those that did not fit."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    columns = [_as_number(c, rows) for c in columns_of(specs)]
    if rows:  # a column with nothing in it takes room and says nothing
        columns = [c for c in columns if any(row.get(c.key) not in (None, "") for row in rows)]
    grid = _grid(rows, columns)
    shown, widths = fit(columns, grid, width)
    hidden = [c.header for i, c in enumerate(columns) if i not in shown]
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        caption=f"hidden: {', '.join(hidden)} (see --format csv)" if hidden else None,
    )
    for i, w in zip(shown, widths, strict=True):
        c = columns[i]
        table.add_column(
            Text(truncate(c.header, w)),
            width=w,
            no_wrap=True,
            overflow="ellipsis",
            justify="right" if c.kind in _RIGHT else "left",
        )
    for line in grid:
        table.add_row(
            *[
                Text(truncate(line[i], w, keep_end=columns[i].kind == "path"))
                for i, w in zip(shown, widths, strict=True)
            ]
        )
    return table


def _as_number(column: Column, rows: Sequence[dict[str, Any]]) -> Column:
    """A plain text column that holds only numbers is right-aligned and never cut."""
    if column.kind == "text" and _numeric(rows, column):
        return Column(column.key, column.label, "number", column.priority, column.min_width)
    return column


def plain_lines(rows: Sequence[dict[str, Any]], specs: Iterable[Column | str]) -> list[str]:
    """Header and rows as aligned text: every column, every value whole, one line per row."""
    columns = [_as_number(c, rows) for c in columns_of(specs)]
    grid = [[c.header for c in columns], *_grid(rows, columns)]
    widths = [max(_width(line[i]) for line in grid) for i in range(len(columns))]
    lines = []
    for line in grid:
        cells = []
        for text, w, c in zip(line, widths, columns, strict=True):
            pad = " " * (w - _width(text))
            cells.append(pad + text if c.kind in _RIGHT else text + pad)
        lines.append("  ".join(cells).rstrip())
    return lines


def print_table(
    rows: Sequence[dict[str, Any]],
    specs: Iterable[Column | str],
    title: str | None = None,
    console: Any = None,
) -> None:
    """In a terminal a table that fits its width; elsewhere (a pipe, a file) plain text."""
    from rich.console import Console

    console = console or Console()
    if console.is_terminal:
        console.print(rich_table(rows, specs, console.width, title))
        return
    out: IO[str] = console.file
    out.write("".join(line + "\n" for line in plain_lines(rows, specs)))

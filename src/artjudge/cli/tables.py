"""Tables that stay readable on a terminal and in a log.

On a terminal a rich table wraps long cells (item ids, paths) instead of cutting them with
an ellipsis; when output goes to a file or a pipe, rich would draw an 80-column box and
truncate, so plain tab-separated rows are printed instead: every id whole, easy to grep.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class PlainTable:
    """A titled table: column names, rows of already formatted cells, an optional caption."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    caption: str | None = None
    right: frozenset[str] = frozenset()  # columns aligned right on a terminal (numbers)

    def add_row(self, *cells: object) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(
                f"table {self.title!r}: a row has {len(cells)} cells for {len(self.columns)} columns"
            )
        self.rows.append([str(c) for c in cells])


def is_terminal(stream: TextIO) -> bool:
    """True when ``stream`` is an interactive terminal (not a file, pipe or captured stream)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def print_table(table: PlainTable, stream: TextIO | None = None) -> None:
    """Print ``table`` to ``stream`` (stdout by default): wrapped rich table or plain rows."""
    out = sys.stdout if stream is None else stream
    if not is_terminal(out):
        out.write(table.title + "\n")
        out.write("\t".join(table.columns) + "\n")
        for row in table.rows:
            out.write("\t".join(row) + "\n")
        if table.caption:
            out.write(f"({table.caption})\n")
        out.write("\n")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out)
    # the title on its own line: inside the table it would wrap to the table's width
    console.print(Text(table.title, style="bold"), overflow="fold")
    if needed_width(table) > console.width:
        _print_blocks(table, console)
        return
    t = Table(caption=table.caption)
    for col in table.columns:
        t.add_column(col, justify="right" if col in table.right else "left", overflow="fold")
    for row in table.rows:
        t.add_row(*(Text(cell) for cell in row))  # Text: an id with [brackets] is not markup
    console.print(t)


#: A cell word longer than this may be folded even when the table is otherwise laid out in columns.
LONG_WORD = 40


def _longest_word(text: str) -> int:
    return max((len(w) for w in text.split()), default=0)


def needed_width(table: PlainTable) -> int:
    """Columns wide enough that no header or cell word (up to :data:`LONG_WORD`) breaks mid-word.

    rich folds a word only when its column is narrower than the word, and never makes a
    column narrower than its longest word while the table fits; this is the sum of those
    widths plus rich's borders and padding (3 per column, 1 more for the frame).
    """
    widths = []
    for k, col in enumerate(table.columns):
        cells = [_longest_word(r[k]) for r in table.rows]
        widths.append(max(_longest_word(col), min(LONG_WORD, max(cells, default=0))))
    return sum(w + 3 for w in widths) + 1


def _print_blocks(table: PlainTable, console: Any) -> None:
    """Too many columns for this terminal: one block per row, ``column: value`` per line.

    Why: squeezed into 80 columns, rich broke names and numbers mid-word ("compo/sition").
    """
    from rich.text import Text

    label = max(len(c) for c in table.columns)
    for row in table.rows:
        for col, cell in zip(table.columns, row, strict=True):
            console.print(Text(f"{col:>{label}}  {cell}"), overflow="fold")
        console.print()
    if table.caption:
        console.print(Text(f"({table.caption})"), overflow="fold")

"""CSV cells a spreadsheet cannot run as formulas: the one escaping rule for every CSV we write.

A cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) is a formula to
Excel, LibreOffice and Google Sheets, so a file or annotator named ``=HYPERLINK(...)`` could
run when the CSV is opened ("CSV injection"). Such text gets a leading quote, as the OWASP
advice says. Numbers are left alone: ``-2.71`` is a score, and ``'-2.71`` would break every
reader of the file (``artjudge fuse`` included). :func:`unescape_csv_cell` undoes it for our
own readers (``assess --resume`` matching inputs in its earlier CSV output).
"""

from __future__ import annotations

from typing import Any

__all__ = ["FORMULA_STARTS", "csv_cell", "unescape_csv_cell"]

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return s.strip() == s and s.lower().lstrip("+-") not in ("nan", "inf", "infinity")


def csv_cell(v: Any) -> str:
    """A cell as text; a string a spreadsheet would run as a formula gets a leading quote."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int | float):
        return repr(v) if isinstance(v, float) else str(v)
    s = str(v)
    if s[:1] in FORMULA_STARTS and not _is_number(s):
        return "'" + s
    return s


def unescape_csv_cell(s: str) -> str:
    """The text :func:`csv_cell` escaped (``'=x`` -> ``=x``); other text unchanged."""
    if s[:1] == "'" and s[1:2] in FORMULA_STARTS and not _is_number(s[1:]):
        return s[1:]
    return s

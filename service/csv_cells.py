"""Cells of a CSV a person opens in a spreadsheet program: nothing sent by a gateway may become a formula.

OWASP's advice against CSV injection: a cell starting with one of these is read as a formula (or
DDE) by spreadsheet programs; a leading apostrophe makes it plain text.
"""

from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value

"""Query and path parameters shared by the routers, bounded so that no value can break the arithmetic
or the database behind them (a day after 9999-12-31, an id beyond 64 bits): those are 422s here."""

from datetime import date
from typing import Annotated

from fastapi import Path, Query
from pydantic import StringConstraints

# Ledgers start long after 1900 and no alert ends after 2999; the bounds keep day + 1 and the
# conversion to a Beijing midnight inside Python's calendar.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
MAX_BIGINT = 2**63 - 1
MAX_INT = 2**31 - 1  # ids of the integer columns (alerts, exemptions)

FromDay = Annotated[date, Query(alias="from", ge=FIRST_DAY, le=LAST_DAY,
                                description="first Beijing day (yyyy-MM-dd)")]
ToDay = Annotated[date, Query(alias="to", ge=FIRST_DAY, le=LAST_DAY,
                              description="last Beijing day (yyyy-MM-dd), inclusive")]
OnDay = Annotated[date, Query(alias="date", ge=FIRST_DAY, le=LAST_DAY, description="a Beijing day (yyyy-MM-dd)")]
OptionalFromDay = Annotated[date | None, Query(alias="from", ge=FIRST_DAY, le=LAST_DAY,
                                               description="first Beijing day (yyyy-MM-dd)")]
OptionalToDay = Annotated[date | None, Query(alias="to", ge=FIRST_DAY, le=LAST_DAY,
                                             description="last Beijing day (yyyy-MM-dd), inclusive")]
RowId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="the record's id as the bureau endpoints give it")]


# Free text in a request body: no control characters (PostgreSQL text cannot hold NUL, and no name,
# note or approval reference needs a line break).
_PLAIN = r"^[^\u0000-\u001F\u007F]*$"
Text64 = Annotated[str, StringConstraints(max_length=64, pattern=_PLAIN)]
Text100 = Annotated[str, StringConstraints(max_length=100, pattern=_PLAIN)]
Text200 = Annotated[str, StringConstraints(max_length=200, pattern=_PLAIN)]
Text500 = Annotated[str, StringConstraints(max_length=500, pattern=_PLAIN)]

PageCursor = Annotated[str | None, Query(max_length=200, description="nextCursor of the previous page; absent for "
                                                                    "the first")]
PageLimit = Annotated[int, Query(ge=1, le=1000, description="items per page")]

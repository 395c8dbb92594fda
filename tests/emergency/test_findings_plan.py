"""The findings statements read only the months asked for: over two years of monthly partitions, planning
every month for a one-day question was most of a cold daily report's time."""

import re
from datetime import date

import pytest
from sqlalchemy import TextClause, text

from service import partitions
from service.emergency import findings

ASKED = date(2026, 11, 10)
OTHER_MONTHS = (date(2026, 9, 1), date(2026, 10, 1))


@pytest.mark.parametrize("statement", [findings._BY_MOVEMENT, findings._PAGE_AND_SUMMARY, findings._RULES_OF],
                         ids=["by movement", "page and summary", "rules at ingest"])
async def test_a_findings_statement_plans_only_the_partitions_of_the_days_asked(engine, session,
                                                                               statement: TextClause):
    await partitions.ensure(engine, [*OTHER_MONTHS, partitions.month_of(ASKED)])
    params = {**findings._params([], jurisdiction="", region="", first_day=ASKED, last_day=ASKED),
              "record_ids": ["M1"], "after_time": None, "after_id": 0, "after_alert": 0, "after_rule": "",
              "limit": 101}
    plan = await findings._judge(session, text("EXPLAIN (FORMAT JSON) " + statement.text), params)
    months = set(re.findall(r"Relation Name.: .movement_(y\d{4}m\d{2})", str(plan[0][0])))
    assert months == {"y2026m11"}

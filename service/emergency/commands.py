"""`hj1321 grade|alert|exemption|watchlist`: the emergency inputs from the command line, checked by the
same request models as the admin API and written through the same service (audited as actor `cli`)."""

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from service import cli
from service.emergency import service
from service.emergency.router import AlertIn, AlertLift, ExemptionIn, GradeIn, WatchlistIn
from service.enterprises import repository as enterprises
from service.enterprises.models import Enterprise
from service.errors import NotFound, Unprocessable
from service.ingest.payloads import BEIJING
from service.reports.service import window_bounds

M = TypeVar("M", bound=BaseModel)


def _checked(model: type[M], values: dict[str, Any]) -> M:
    """The request model of the API, so a value refused over HTTP is refused here with the same words."""
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())
        raise Unprocessable(problems, code="invalid_value") from exc


async def _enterprise(session: Any, code: str) -> Enterprise:
    found = await enterprises.by_code(session, code)
    if found is None:
        raise NotFound(f"no enterprise {code}", code="unknown_enterprise")
    return found


def cmd_grade_set(args: argparse.Namespace) -> int:
    body = _checked(GradeIn, {"grade": args.grade, "validFrom": args.valid_from})

    async def work(admin: Any, session: Any, acting: Any) -> dict[str, Any]:
        return await service.set_grade(session, acting, await _enterprise(session, args.code), grade=body.grade,
                                       valid_from=body.validFrom, now=datetime.now(UTC))

    print(f"enterprise {args.code}: grade {body.grade} from {body.validFrom}; in force today: "
          f"{cli.as_admin(work)['current']}")
    return 0


def cmd_grade_show(args: argparse.Namespace) -> int:
    async def work(admin: Any, session: Any, acting: Any) -> dict[str, Any]:
        return await service.grade_history(session, await _enterprise(session, args.code),
                                           datetime.now(UTC).astimezone(BEIJING).date())

    history = cli.as_admin(work)
    cli.print_table(history["items"], ["grade", "validFrom", "decidedAt", "decidedBy"])
    print(f"in force today: {history['current']}")
    return 0


def cmd_alert_add(args: argparse.Namespace) -> int:
    body = _checked(AlertIn, {"regionCode": args.region, "level": args.level, "measure": args.measure,
                              "startsAt": args.starts_at, "endsAt": args.ends_at,
                              "maxHeavyEntryRatio": args.max_heavy_entry_ratio, "note": args.note,
                              "supersedes": args.supersedes})

    async def work(admin: Any, session: Any, acting: Any) -> dict[str, Any]:
        return await service.create_alert(
            session, acting, region_code=body.regionCode, level=body.level, measure=body.measure,
            starts_at=body.startsAt, ends_at=body.endsAt, max_heavy_entry_ratio=body.maxHeavyEntryRatio,
            note=body.note, supersedes=body.supersedes, now=datetime.now(UTC))

    alert = cli.as_admin(work)
    print(f"alert {alert['id']}: {alert['level']} over {alert['regionCode']} from {alert['startsAt']} "
          f"until {alert['endsAt'] or 'lifted'}"
          + (f", superseding alert {body.supersedes}" if body.supersedes else ""))
    return 0


def cmd_alert_lift(args: argparse.Namespace) -> int:
    body = _checked(AlertLift, {"endsAt": args.ends_at or datetime.now(UTC).isoformat()})

    async def work(admin: Any, session: Any, acting: Any) -> dict[str, Any]:
        return await service.lift_alert(session, acting, alert_id=args.alert_id, ends_at=body.endsAt)

    alert = cli.as_admin(work)
    print(f"alert {alert['id']} ends at {alert['endsAt']}")
    return 0


def cmd_alert_list(args: argparse.Namespace) -> int:
    today = datetime.now(UTC).astimezone(BEIJING).date()
    first, last = args.start or today - timedelta(days=30), args.end or today + timedelta(days=30)

    async def work(admin: Any, session: Any, acting: Any) -> list[dict[str, Any]]:
        lower, upper = window_bounds(first, last)
        return await service.alerts_between(session, region_prefix="", start=lower, end=upper)

    cli.print_table(cli.as_admin(work), ["id", "regionCode", "level", "measure", "startsAt", "endsAt",
                                         "maxHeavyEntryRatio", "supersedes", "note"])
    return 0


def cmd_exemption_add(args: argparse.Namespace) -> int:
    body = _checked(ExemptionIn, {"plateNo": args.plate, "plateColor": args.color, "kind": args.kind,
                                  "validFrom": args.valid_from, "validTo": args.valid_to, "approval": args.approval})

    async def work(admin: Any, session: Any, acting: Any) -> dict[str, Any]:
        return await service.add_exemption(
            session, acting, await _enterprise(session, args.code), plate_no=body.plateNo,
            plate_color=body.plateColor, kind=body.kind, valid_from=body.validFrom, valid_to=body.validTo,
            approval=body.approval, now=datetime.now(UTC))

    exemption = cli.as_admin(work)
    print(f"exemption {exemption['id']}: {exemption['plateNo']} of {args.code} from {exemption['validFrom']} "
          f"to {exemption['validTo']}")
    return 0


def cmd_exemption_list(args: argparse.Namespace) -> int:
    async def work(admin: Any, session: Any, acting: Any) -> list[dict[str, Any]]:
        return await service.list_exemptions(session, await _enterprise(session, args.code))

    cli.print_table(cli.as_admin(work), ["id", "plateNo", "plateColor", "kind", "validFrom", "validTo", "approval"])
    return 0


def cmd_watchlist_import(args: argparse.Namespace) -> int:
    """Entries as the admin API takes them ({"entries": [...]} or a bare list), from a file or `-`."""
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        document = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise Unprocessable(f"{args.file}: {exc}", code="unreadable_file") from exc
    body = _checked(WatchlistIn, document if isinstance(document, dict) else {"entries": document})

    async def work(admin: Any, session: Any, acting: Any) -> list[dict[str, Any]]:
        return await service.upsert_watchlist(session, acting, [e.model_dump() for e in body.entries],
                                              now=datetime.now(UTC))

    saved = cli.as_admin(work)
    released = sum(1 for entry in saved if entry["releasedAt"])
    print(f"watch-list: {len(saved) - released} listed, {released} released")
    return 0


def add_commands(commands: Any) -> None:
    grade = commands.add_parser("grade", help="an enterprise's grade (绩效分级), kept with history")
    grade_commands = grade.add_subparsers(dest="action", required=True)
    grade_set = grade_commands.add_parser("set", help="record a grade decision valid from a day")
    grade_set.add_argument("--code", required=True)
    grade_set.add_argument("--grade", required=True, help="A, leading, B, C, D or none")
    grade_set.add_argument("--from", dest="valid_from", required=True, help="first Beijing day it applies")
    grade_set.set_defaults(run=cmd_grade_set)
    grade_show = grade_commands.add_parser("show", help="an enterprise's grade decisions")
    grade_show.add_argument("--code", required=True)
    grade_show.set_defaults(run=cmd_grade_show)

    alert = commands.add_parser("alert", help="heavy-pollution alerts (重污染天气预警)")
    alert_commands = alert.add_subparsers(dest="action", required=True)
    alert_add = alert_commands.add_parser("add", help="declare an alert (with --supersedes: a level change)")
    alert_add.add_argument("--region", required=True, help="行政区划代码 prefix: 2, 4 or 6 digits")
    alert_add.add_argument("--level", required=True, help="yellow, orange or red")
    alert_add.add_argument("--measure", type=int, help="a local notice's measure code 1-4 (default: national rule)")
    alert_add.add_argument("--from", dest="starts_at", required=True, help="start, Beijing time unless an offset")
    alert_add.add_argument("--to", dest="ends_at", help="end (exclusive); default: until lifted")
    alert_add.add_argument("--max-heavy-entry-ratio", type=float, help="entry cap as a share of normal days")
    alert_add.add_argument("--note", default="")
    alert_add.add_argument("--supersedes", type=int, help="the alert this level change replaces")
    alert_add.set_defaults(run=cmd_alert_add)
    alert_lift = alert_commands.add_parser("lift", help="lift an alert")
    alert_lift.add_argument("alert_id", type=int, metavar="ALERT_ID")
    alert_lift.add_argument("--at", dest="ends_at", help="when it ends (exclusive); default: now")
    alert_lift.set_defaults(run=cmd_alert_lift)
    alert_list = alert_commands.add_parser("list", help="alerts overlapping a window (default: 30 days either side)")
    alert_list.add_argument("--from", dest="start", type=date.fromisoformat)
    alert_list.add_argument("--to", dest="end", type=date.fromisoformat)
    alert_list.set_defaults(run=cmd_alert_list)

    exemption = commands.add_parser("exemption", help="approved emergency transport (应急运输豁免)")
    exemption_commands = exemption.add_subparsers(dest="action", required=True)
    exemption_add = exemption_commands.add_parser("add", help="exempt one vehicle of an enterprise for a window")
    exemption_add.add_argument("--code", required=True)
    exemption_add.add_argument("--plate", required=True)
    exemption_add.add_argument("--color", required=True, help="plate colour code")
    exemption_add.add_argument("--kind", required=True, help="safety, livelihood or special")
    exemption_add.add_argument("--from", dest="valid_from", required=True)
    exemption_add.add_argument("--to", dest="valid_to", required=True)
    exemption_add.add_argument("--approval", required=True, help="the bureau's approval reference")
    exemption_add.set_defaults(run=cmd_exemption_add)
    exemption_list = exemption_commands.add_parser("list", help="an enterprise's exemptions")
    exemption_list.add_argument("--code", required=True)
    exemption_list.set_defaults(run=cmd_exemption_list)

    watchlist = commands.add_parser("watchlist", help="vehicles found over emission limits (超标车辆)")
    watchlist_commands = watchlist.add_subparsers(dest="action", required=True)
    watchlist_import = watchlist_commands.add_parser(
        "import", help="list or release vehicles from a JSON file of entries (as the admin API takes them)")
    watchlist_import.add_argument("file", metavar="FILE|-")
    watchlist_import.set_defaults(run=cmd_watchlist_import)

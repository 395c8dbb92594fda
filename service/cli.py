"""The hj1321 command: serve, migrate, enterprise, staff, verify, audit, grade, alert, exemption, watchlist,
validate."""

import argparse
import asyncio
import json
import os
import ssl
import sys
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from service import __version__
from service.config import ConfigurationError, Settings, get_settings

T = TypeVar("T")

DEMO_ENTERPRISE = {"code": "91130203MA0EXAMPLE", "name": "示范焦化有限公司 (demo)", "region_code": "130203",
                   "industry": "coking"}


def _database_url(settings: Settings) -> str:
    """DATABASE_URL as given (migrated by `hj1321 migrate`), or the embedded server, migrated now so
    that every command works on a fresh folder, before `hj1321 serve` ever ran."""
    from service.embedded_db import start_embedded
    from service.migrate import upgrade_to_head

    if settings.database_url:
        return settings.database_url
    url = start_embedded(settings.data_dir)
    upgrade_to_head(url)
    return url


def _in_session(database_url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run work(session) in one transaction against the database, committed at the end."""
    from service.db import create_engine, create_sessionmaker

    async def run() -> T:
        engine = create_engine(get_settings().model_copy(update={"database_url": database_url}))
        try:
            async with create_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _fail(message: str) -> int:
    print(f"hj1321: {message}", file=sys.stderr)
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    from service import workers
    from service.embedded_db import kept_running
    from service.migrate import is_at_head
    from service.observability import configure_logging, logging_config

    if args.workers < 1:
        return _fail(f"--workers must be 1 or more; got {args.workers}")
    if args.ssl_certfile:
        # Each worker would otherwise fail on it alone, with a traceback, after the database has started.
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(args.ssl_certfile, args.ssl_keyfile)
        except OSError as exc:  # ssl.SSLError is one
            return _fail(f"cannot use the TLS certificate {args.ssl_certfile} and key {args.ssl_keyfile}: {exc}")
    settings = get_settings()
    url, embedded = _database_url(settings), not settings.database_url
    if embedded:
        print(f"database: embedded PostgreSQL under {settings.data_dir.resolve() / 'pgdata'}")
    elif not is_at_head(url):
        return _fail("the database schema is not up to date; run `hj1321 migrate` first")
    scheme = "https" if args.ssl_certfile else "http"
    base = f"{scheme}://{args.host}:{args.port}"
    if args.demo:
        if settings.database_url:
            return _fail("--demo runs on the embedded server only: unset DATABASE_URL (demo credentials must "
                         "never reach a production database)")
        demo = _demo_credentials(url, settings.data_dir)
        key, token = demo["key"], demo["token"]
        samples = settings.data_dir.resolve() / "samples"
        cmd_samples(argparse.Namespace(folder=samples, enterprise=DEMO_ENTERPRISE["code"]))
        sample = samples / "movements.valid.json"
        print(f"demo enterprise: {DEMO_ENTERPRISE['code']} ({DEMO_ENTERPRISE['name']}), a week of its gate loaded")
        print(f"demo gateway key: {key}")
        print(f"demo staff token (admin, national): {token}")
        print("try:")
        print(f"  curl -s -X POST {base}/api/v1/movements -H 'Authorization: Bearer {key}' "
              f"-H 'Content-Type: application/json' --data-binary @{sample}")
    settings = settings.model_copy(update={"database_url": url})
    print(f"serving on {base} (API docs: {base}/docs)", flush=True)
    # No Server banner: a scanner learns nothing of what answers.
    options: dict[str, Any] = {"host": args.host, "port": args.port, "ssl_certfile": args.ssl_certfile,
                               "ssl_keyfile": args.ssl_keyfile, "log_level": settings.log_level, "access_log": False,
                               "log_config": logging_config(settings.log_level),
                               "server_header": False,
                               "http": "service.http_guard:HeadDeadlineProtocol",
                               # A stop or restart does not wait out stalled uploads (they would take
                               # the whole body deadline); what is cut short was never acknowledged.
                               "timeout_graceful_shutdown": 10}
    # Even one worker runs under the supervisor, which replaces it if it dies or its loop sticks. Workers
    # build their own app (and JSON logging) from the environment; metrics go through files summed at /metrics.
    os.environ["DATABASE_URL"] = url
    configure_logging(settings.log_level)
    with kept_running() if embedded else nullcontext():
        return workers.serve(options, args.workers, hung_seconds=settings.worker_timeout_seconds,
                             metrics_fallback=settings.data_dir.resolve())


DEMO_CREDENTIALS = "demo-credentials.json"


async def _demo(session: Any, saved: dict[str, str]) -> dict[str, str]:
    """The demo enterprise, gateway key and national admin token: the saved ones while they still work."""
    from service.admin import service as admin
    from service.auth import repository as credentials
    from service.auth.secrets import hash_secret
    from service.enterprises import repository as enterprises

    now = datetime.now(UTC)
    acting = admin.Acting(actor=_cli_actor(), region_prefix="", cli=True)
    key, token = saved.get("key"), saved.get("token")
    if await enterprises.by_code(session, DEMO_ENTERPRISE["code"]) is None:
        key = (await admin.create_enterprise(session, acting, code=DEMO_ENTERPRISE["code"],
                                             name=DEMO_ENTERPRISE["name"], region_code=DEMO_ENTERPRISE["region_code"],
                                             industry=DEMO_ENTERPRISE["industry"], now=now))["key"]["secret"]
    elif not key or await credentials.live_gateway_key(session, key_hash=hash_secret(key), now=now,
                                                        stale_before=now) is None:
        key = (await admin.issue_key(session, acting, code=DEMO_ENTERPRISE["code"], now=now, days=None))["secret"]
    if not token or await credentials.live_staff_token(session, token_hash=hash_secret(token), now=now,
                                                       stale_before=now) is None:
        token = (await admin.issue_staff(session, acting, name="demo admin", role="admin", region_code="", now=now,
                                         days=None))["secret"]
    await _demo_week(session, now)
    return {"key": str(key), "token": str(token)}


async def _demo_week(session: Any, now: datetime) -> None:
    """A week of the demo plant's gate, its ledgers and rail volumes, loaded once through ingest, so every
    bureau figure has something to show on the first call."""
    from service.enterprises import repository as enterprises
    from service.ingest.kinds import KINDS
    from service.ingest.service import ingest_batch
    from service.samples import demo_week, documents

    enterprise = await enterprises.by_code(session, DEMO_ENTERPRISE["code"])
    if enterprise is None or enterprise.id is None or await _has_movements(session, enterprise.id):
        return
    settings = get_settings()
    uploads = [(received, "movements", batch) for received, batch in demo_week(enterprise.code, now)]
    samples = documents(enterprise.code, now)
    uploads += [(now, kind, samples[f"{kind}.valid.json"]) for kind in ("inplant-vehicles", "nonroad-machinery",
                                                                           "clean-transport-volumes")]
    for received, kind, body in uploads:
        await ingest_batch(session, kind=KINDS[kind], enterprise_id=enterprise.id, records=body["records"],
                           settings=settings, now=received, region_code=enterprise.region_code)


async def _has_movements(session: Any, enterprise_id: int) -> bool:
    from sqlalchemy import text

    return bool((await session.exec(text("SELECT EXISTS (SELECT 1 FROM movement WHERE enterprise_id = :e)"),
                                    params={"e": enterprise_id})).scalar())


def _demo_credentials(url: str, data_dir: Path) -> dict[str, str]:
    # Kept in the data folder of the embedded demo server (never a production database), so each
    # `serve --demo` shows the same key and token instead of minting more.
    path = data_dir.resolve() / DEMO_CREDENTIALS
    saved = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    current = _in_session(url, lambda session: _demo(session, saved))
    if current != saved:
        path.write_text(json.dumps(current), encoding="utf-8")
        path.chmod(0o600)
    return current


def _cli_actor() -> Any:
    from service.audit.service import CLI

    return CLI


def _acting() -> Any:
    from service.admin.service import Acting

    return Acting(actor=_cli_actor(), region_prefix="", cli=True)


def cmd_migrate(args: argparse.Namespace) -> int:
    from service.migrate import upgrade_to_head

    upgrade_to_head(_database_url(get_settings()))
    print("migrations applied")
    return 0


def as_admin(work: Callable[[Any, Any, Any], Awaitable[T]]) -> T:
    """Run an administrative action as the command line (national, audited as actor `cli`)."""
    from service.admin import service as admin

    return _in_session(_database_url(get_settings()), lambda session: work(admin, session, _acting()))


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    print("\t".join(columns))
    for row in rows:
        print("\t".join("" if row.get(c) is None else str(row.get(c)) for c in columns))


def cmd_enterprise_add(args: argparse.Namespace) -> int:
    created = as_admin(lambda admin, session, acting: admin.create_enterprise(
        session, acting, code=args.code, name=args.name, region_code=args.region, industry=args.industry,
        now=datetime.now(UTC), key_days=args.days))
    print(f"enterprise {args.code} registered; gateway key {created['key']['id']} "
          f"(expires {created['key']['expiresAt'] or 'never'}), its secret shown once:")
    print(created["key"]["secret"])
    return 0


def cmd_enterprise_list(args: argparse.Namespace) -> int:
    print_table(as_admin(lambda admin, session, acting: admin.list_enterprises(session, acting)),
           ["code", "name", "regionCode", "industry", "disabled", "keyCount", "lastSeenAt"])
    return 0


def cmd_enterprise_disable(args: argparse.Namespace) -> int:
    changed = as_admin(lambda admin, session, acting: admin.change_enterprise(
        session, acting, code=args.code, now=datetime.now(UTC), disabled=not args.enable))
    print(f"enterprise {args.code} {'disabled: its keys no longer work' if changed['disabled'] else 'enabled'}")
    return 0


def cmd_enterprise_key(args: argparse.Namespace) -> int:
    if args.revoke:
        key_id = None if args.revoke == "all" else args.revoke
        revoked = as_admin(lambda admin, session, acting: admin.revoke_keys(
            session, acting, code=args.code, key_id=key_id, now=datetime.now(UTC)))
        print(f"revoked {len(revoked)} key(s) of {args.code}: {', '.join(revoked) or '-'}")
        return 0
    issued = as_admin(lambda admin, session, acting: admin.issue_key(
        session, acting, code=args.code, now=datetime.now(UTC), days=args.days))
    print(f"new gateway key {issued['id']} of {args.code} (expires {issued['expiresAt'] or 'never'}; "
          f"earlier keys keep working), its secret shown once:")
    print(issued["secret"])
    return 0


def cmd_enterprise_keys(args: argparse.Namespace) -> int:
    print_table(as_admin(lambda admin, session, acting: admin.list_keys(session, acting, code=args.code)),
           ["id", "createdAt", "expiresAt", "lastUsedAt", "revokedAt"])
    return 0


def cmd_staff_add(args: argparse.Namespace) -> int:
    issued = as_admin(lambda admin, session, acting: admin.issue_staff(
        session, acting, name=args.name, role=args.role, region_code=args.region, now=datetime.now(UTC),
        days=args.days))
    scope = f"region {args.region}" if args.region else "national"
    print(f"staff {args.name} ({args.role}, {scope}): token {issued['id']}, expires {issued['expiresAt']}; "
          f"its secret shown once:")
    print(issued["secret"])
    return 0


def cmd_staff_list(args: argparse.Namespace) -> int:
    print_table(as_admin(lambda admin, session, acting: admin.list_staff(session, acting)),
           ["id", "name", "role", "regionCode", "createdAt", "createdBy", "expiresAt", "lastUsedAt", "revokedAt"])
    return 0


def cmd_staff_revoke(args: argparse.Namespace) -> int:
    as_admin(lambda admin, session, acting: admin.revoke_staff(session, acting, token_id=args.token_id,
                                                             now=datetime.now(UTC)))
    print(f"staff token {args.token_id} revoked")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from service.evidence.service import verify

    checked, mismatches = _in_session(_database_url(get_settings()),
                                      lambda session: verify(session, start=args.start, end=args.end))
    for m in mismatches:
        print(f"{m.table}: enterprise {m.enterprise_code} {m.kind} {m.key} version {m.version}: stored {m.stored}, "
              f"its columns hash to {m.recomputed}")
    if mismatches:
        print(f"{len(mismatches)} of {checked} stored versions were changed after they were received")
        return 1
    print(f"{checked} stored versions: every content hash matches its columns")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from service.audit import service as audit

    checked, broken = _in_session(_database_url(get_settings()), audit.verify)
    if broken is not None:
        print(f"audit entry {broken.id}: {broken.reason} ({checked} entries before it hold)")
        return 1
    print(f"audit log: {checked} entries, the chain holds")
    return 0


def cmd_audit_purge(args: argparse.Namespace) -> int:
    from service.audit import service as audit

    days = get_settings().audit_retention_days
    deleted = _in_session(_database_url(get_settings()), lambda session: audit.purge(
        session, retention_days=days, now=datetime.now(UTC)))
    print(f"audit log: {deleted} entries older than {days} days removed")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    from service import retention
    from service.db import create_engine
    from service.photos.store import photo_store

    settings = get_settings()
    url = _database_url(settings)

    async def run() -> retention.Report:
        engine = create_engine(settings.model_copy(update={"database_url": url}))
        try:
            if args.dry_run:
                return await retention.plan(engine, settings, datetime.now(UTC))
            return await retention.purge(engine, settings, photo_store(settings), datetime.now(UTC))
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    if args.json:
        print(json.dumps({"dryRun": args.dry_run, **report.as_json()}, ensure_ascii=False, indent=2))
        return 0
    verb = "would remove" if args.dry_run else "removed"
    print(f"movements kept from {report.horizon.keep_from} ({settings.retention_months} months), ledger history "
          f"from {report.horizon.ledger_before:%Y-%m-%d} ({settings.ledger_retention_years} years)")
    print(f"months {verb}: {', '.join(m.strftime('%Y-%m') for m in report.months) or 'none'}")
    for what, rows in report.removed.items():
        print(f"  {what}: {rows} {verb}")
    return 0


def validate_document(kind_name: str, document: Any, *, now: datetime) -> dict[str, Any]:
    """What the service would answer for this upload, short of storing it: the service's own checks, codes
    and messages. A batch envelope, a list of records or one record."""
    from service.ingest.kinds import KINDS
    from service.ingest.service import check_records, records_of, rule_context
    from service.photos.service import PhotoBundle

    kind, settings = KINDS[kind_name], get_settings()
    if isinstance(document, dict) and "records" in document:
        code = document.get("enterpriseCode")
        records = records_of(document, enterprise_code=code if isinstance(code, str) else "",
                             max_records=settings.max_batch_records)
    else:
        records = document if isinstance(document, list) else [document]
    candidates, results = check_records(kind, records, rule_context(settings, now), PhotoBundle(), settings)
    for candidate in candidates:
        results[candidate.index] = {"index": candidate.index, kind.key_field: candidate.key, "status": "valid",
                                    "warnings": candidate.warnings}
    rejected = sum(1 for r in results if r["status"] == "rejected")
    return {"received": len(results), "valid": len(results) - rejected, "rejected": rejected, "results": results}


def cmd_validate(args: argparse.Namespace) -> int:
    from service.errors import ServiceError

    name = "stdin" if args.file == "-" else args.file
    try:
        document = json.loads(sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes())
    except (OSError, ValueError) as exc:
        return _fail(f"{name}: {exc}")
    try:
        answer = validate_document(args.kind, document, now=datetime.now(UTC))
    except ServiceError as exc:  # the envelope itself: the service would refuse the whole upload
        if args.json:
            print(json.dumps({"error": {"code": exc.code, "message": exc.message, "detail": exc.detail}},
                             ensure_ascii=False))
        else:
            print(f"{name}: {exc.code}: {exc.message}")
        return 1
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
        return 1 if answer["rejected"] else 0
    for result in answer["results"]:
        for severity in ("errors", "warnings"):
            for item in result.get(severity, []):
                print(f"records[{result['index']}].{item['field']}: {severity[:-1]} {item['code']}: {item['message']}")
    print(f"{name}: {answer['valid']} of {answer['received']} record(s) valid, {answer['rejected']} rejected "
          f"({args.kind})")
    return 1 if answer["rejected"] else 0


def cmd_samples(args: argparse.Namespace) -> int:
    from service.samples import documents

    folder = Path(args.folder)
    written = documents(args.enterprise)
    for name, content in written.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(json.dumps(content, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(written)} files written to {folder}/ (times relative to now; photos/ holds the photos named by "
          f"reference, PUT /api/v1/photos/{{sha256}})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hj1321", description="HJ 1321-2023 mobile-source ledger service")
    parser.add_argument("--version", action="version", version=f"hj1321 {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service (embedded PostgreSQL unless DATABASE_URL)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--ssl-certfile")
    serve.add_argument("--ssl-keyfile")
    serve.add_argument("--demo", action="store_true", help="create a demo enterprise, key and staff token")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes, supervised (metrics are summed across them)")
    serve.set_defaults(run=cmd_serve)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)

    enterprise = commands.add_parser("enterprise", help="register enterprises and manage their keys")
    enterprise_commands = enterprise.add_subparsers(dest="action", required=True)
    add = enterprise_commands.add_parser("add", help="register an enterprise; prints its gateway key")
    add.add_argument("--code", required=True, help="统一社会信用代码 (18 characters)")
    add.add_argument("--name", required=True)
    add.add_argument("--region", required=True, help="行政区划代码 (6 digits)")
    add.add_argument("--industry", default="", help="e.g. steel, coking, cement, power")
    add.add_argument("--days", type=float, help="the key expires after this many days (default: never)")
    add.set_defaults(run=cmd_enterprise_add)
    enterprise_commands.add_parser("list", help="enterprises, with live key counts").set_defaults(
        run=cmd_enterprise_list)
    disable = enterprise_commands.add_parser("disable", help="disable an enterprise: its keys stop working")
    disable.add_argument("--code", required=True)
    disable.add_argument("--enable", action="store_true", help="enable it again instead")
    disable.set_defaults(run=cmd_enterprise_disable)
    key = enterprise_commands.add_parser("key", help="issue an additional gateway key, or revoke keys")
    key.add_argument("--code", required=True)
    key.add_argument("--days", type=float, help="the new key expires after this many days (default: never)")
    key.add_argument("--revoke", metavar="KEY_ID|all", help="revoke one key by its id, or all of them")
    key.set_defaults(run=cmd_enterprise_key)
    keys = enterprise_commands.add_parser("keys", help="an enterprise's keys (ids and dates, never secrets)")
    keys.add_argument("--code", required=True)
    keys.set_defaults(run=cmd_enterprise_keys)

    staff = commands.add_parser("staff", help="bureau staff tokens")
    staff_commands = staff.add_subparsers(dest="action", required=True)
    staff_add = staff_commands.add_parser("add", help="issue a staff token")
    staff_add.add_argument("--name", required=True)
    staff_add.add_argument("--role", required=True, choices=["viewer", "admin", "auditor"])
    staff_add.add_argument("--region", default="", help="行政区划代码 prefix: 2, 4 or 6 digits; empty = national")
    staff_add.add_argument("--days", type=float, help="lifetime in days, fractions allowed (default 90)")
    staff_add.set_defaults(run=cmd_staff_add)
    staff_commands.add_parser("list", help="staff tokens (ids and dates, never secrets)").set_defaults(
        run=cmd_staff_list)
    staff_revoke = staff_commands.add_parser("revoke", help="revoke a staff token by its id")
    staff_revoke.add_argument("token_id", metavar="TOKEN_ID")
    staff_revoke.set_defaults(run=cmd_staff_revoke)

    verify = commands.add_parser("verify", help="recompute every stored record version's content hash; lists "
                                                "rows edited behind the service's back")
    verify.add_argument("--from", dest="start", type=date.fromisoformat, help="first Beijing day (movements, volumes)")
    verify.add_argument("--to", dest="end", type=date.fromisoformat, help="last Beijing day, inclusive")
    verify.set_defaults(run=cmd_verify)

    audit = commands.add_parser("audit", help="the audit log")
    audit_commands = audit.add_subparsers(dest="action", required=True)
    audit_commands.add_parser("verify", help="recompute the hash chain; names the first entry that does not "
                                             "hold").set_defaults(run=cmd_audit_verify)
    audit_commands.add_parser("purge", help="remove entries older than HJ1321_AUDIT_RETENTION_DAYS "
                                            "(never fewer than 180 days kept)").set_defaults(run=cmd_audit_purge)

    purge = commands.add_parser("retention", help="remove movements (whole months), figures, ledger history and "
                                                  "photos older than the retention windows")
    purge.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    purge.add_argument("--json", action="store_true", help="the report as JSON")
    purge.set_defaults(run=cmd_retention)

    from service.emergency.commands import add_commands as add_emergency_commands
    from service.ingest.kinds import KINDS

    add_emergency_commands(commands)

    validate = commands.add_parser("validate", help="check an upload offline with the service's own checks "
                                                    "(no database): the codes and messages ingest would answer")
    validate.add_argument("file", metavar="FILE|-", help="a batch envelope, a list of records or one record; - reads "
                                                         "stdin")
    validate.add_argument("--kind", required=True, choices=sorted(KINDS))
    validate.add_argument("--json", action="store_true", help="the verdicts as JSON, shaped like ingest's answer")
    validate.set_defaults(run=cmd_validate)

    samples = commands.add_parser("samples", help="write example uploads of every kind, dated now, with real "
                                                  "tiny photos whose hashes match")
    samples.add_argument("folder", nargs="?", default="samples")
    samples.add_argument("--enterprise", default=DEMO_ENTERPRISE["code"], help="the enterpriseCode they carry")
    samples.set_defaults(run=cmd_samples)
    return parser


def _setting_problem(exc: ValidationError) -> str:
    """A bad setting named as the operator sets it (HJ1321_DB_POOL_SIZE), with what is wrong."""
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        variable = "DATABASE_URL" if name == "database_url" else f"HJ1321_{name.upper()}"
        problems.append(f"{variable}={error.get('input')!r}: {error['msg']}")
    return "bad setting: " + "; ".join(problems)


def main(argv: list[str] | None = None) -> int:
    from sqlalchemy.exc import DBAPIError

    from service.errors import ServiceError

    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ServiceError as exc:
        return _fail(exc.message)
    except ConfigurationError as exc:
        return _fail(str(exc))
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        return _fail(_setting_problem(exc))
    except (OSError, DBAPIError) as exc:
        # An unreachable or refusing database: one line an operator can act on, not a traceback.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return _fail(f"cannot use the database ({type(getattr(exc, 'orig', None) or exc).__name__}): {reason}")


if __name__ == "__main__":
    sys.exit(main())

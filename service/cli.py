"""The hj1321 command: serve, migrate, enterprise, staff, validate."""

import argparse
import asyncio
import json
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from service.config import Settings, get_settings

T = TypeVar("T")

DEMO_ENTERPRISE = {"code": "91130203MA0EXAMPLE", "name": "示范焦化有限公司 (demo)", "region_code": "130203",
                   "industry": "coking"}
RECORD_SCHEMAS = {
    "movements": "movement.record.json",
    "inplant-vehicles": "inplant-vehicle.record.json",
    "nonroad-machinery": "nonroad-machinery.record.json",
    "clean-transport-volumes": "clean-transport-volume.record.json",
}


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
    import uvicorn

    from service.app import create_app
    from service.migrate import is_at_head
    from service.observability import configure_logging

    settings = get_settings()
    url = _database_url(settings)
    if not settings.database_url:
        print(f"database: embedded PostgreSQL under {settings.data_dir.resolve() / 'pgdata'}")
    elif not is_at_head(url):
        return _fail("the database schema is not up to date; run `hj1321 migrate` first")
    settings = settings.model_copy(update={"database_url": url})
    scheme = "https" if args.ssl_certfile else "http"
    base = f"{scheme}://{args.host}:{args.port}"
    if args.demo:
        key, token = _in_session(url, _demo)
        sample = Path(__file__).resolve().parent.parent / "tests" / "samples" / "movements.valid.json"
        print(f"demo enterprise: {DEMO_ENTERPRISE['code']} ({DEMO_ENTERPRISE['name']})")
        print(f"demo gateway key: {key}")
        print(f"demo staff token (admin, national): {token}")
        print("try:")
        print(f"  curl -s -X POST {base}/api/v1/movements -H 'Authorization: Bearer {key}' "
              f"-H 'Content-Type: application/json' --data-binary @{sample}")
    print(f"serving on {base} (API docs: {base}/docs)", flush=True)
    # No Server banner: a scanner learns nothing of what answers.
    options: dict[str, Any] = {"host": args.host, "port": args.port, "ssl_certfile": args.ssl_certfile,
                               "ssl_keyfile": args.ssl_keyfile, "log_level": "info", "access_log": False,
                               "server_header": False,
                               # A stop or restart does not wait out stalled uploads (they would take
                               # the whole body deadline); what is cut short was never acknowledged.
                               "timeout_graceful_shutdown": 10}
    if args.workers == 1:
        configure_logging()
        uvicorn.run(create_app(settings), **options)
        return 0
    # Workers build their own app (and JSON logging) from the environment; metrics go through files
    # summed at /metrics.
    os.environ["DATABASE_URL"] = url
    metrics_dir = settings.data_dir.resolve() / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    uvicorn.run("service.app:create_served_app", factory=True, workers=args.workers, **options)
    return 0


async def _demo(session: Any) -> tuple[str, str]:
    from service.auth import service as auth
    from service.enterprises import repository as enterprises
    from service.enterprises.service import add_enterprise

    existing = await enterprises.by_code(session, DEMO_ENTERPRISE["code"])
    if existing is None:
        _, key = await add_enterprise(session, **DEMO_ENTERPRISE)
    else:
        assert existing.id is not None
        key = await auth.issue_gateway_key(session, enterprise_id=existing.id)
    token = await auth.add_staff(session, name="demo admin", role="admin", region_prefix="")
    return key, token


def cmd_migrate(args: argparse.Namespace) -> int:
    from service.migrate import upgrade_to_head

    upgrade_to_head(_database_url(get_settings()))
    print("migrations applied")
    return 0


def cmd_enterprise_add(args: argparse.Namespace) -> int:
    from service.enterprises.service import add_enterprise

    async def work(session: Any) -> str:
        _, key = await add_enterprise(session, code=args.code, name=args.name, region_code=args.region,
                                      industry=args.industry)
        return key

    key = _in_session(_database_url(get_settings()), work)
    print(f"enterprise {args.code} registered; its gateway key (shown once):")
    print(key)
    return 0


def cmd_enterprise_key(args: argparse.Namespace) -> int:
    from service.auth import service as auth
    from service.enterprises.service import require

    async def work(session: Any) -> str:
        enterprise = await require(session, args.code)
        assert enterprise.id is not None
        if args.revoke:
            count = await auth.revoke_gateway_keys(session, enterprise_id=enterprise.id, now=datetime.now(UTC))
            return f"revoked {count} key(s) of {args.code}"
        return await auth.issue_gateway_key(session, enterprise_id=enterprise.id)

    output = _in_session(_database_url(get_settings()), work)
    if not args.revoke:
        print(f"new gateway key of {args.code} (shown once):")
    print(output)
    return 0


def cmd_staff_add(args: argparse.Namespace) -> int:
    from service.auth import service as auth

    async def work(session: Any) -> str:
        return await auth.add_staff(session, name=args.name, role=args.role, region_prefix=args.region)

    token = _in_session(_database_url(get_settings()), work)
    scope = f"region {args.region}" if args.region else "national"
    print(f"staff {args.name} ({args.role}, {scope}); token (shown once):")
    print(token)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from service.contract import BATCH_SCHEMAS, validator

    try:
        document = json.loads(Path(args.file).read_bytes())
    except (OSError, ValueError) as exc:
        return _fail(f"{args.file}: {exc}")
    is_batch = isinstance(document, dict) and "records" in document
    schema = BATCH_SCHEMAS[args.kind] if is_batch else RECORD_SCHEMAS[args.kind]
    errors = sorted(validator(schema).iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        print(f"{where or '(document)'}: {error.message}")
    if errors:
        print(f"{args.file}: {len(errors)} error(s) against schemas/{schema}")
        return 1
    count = len(document["records"]) if is_batch else 1
    print(f"{args.file}: valid against schemas/{schema} ({count} record(s))")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hj1321", description="HJ 1321-2023 mobile-source ledger service")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service (embedded PostgreSQL unless DATABASE_URL)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--ssl-certfile")
    serve.add_argument("--ssl-keyfile")
    serve.add_argument("--demo", action="store_true", help="create a demo enterprise, key and staff token")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (metrics are summed across them)")
    serve.set_defaults(run=cmd_serve)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)

    enterprise = commands.add_parser("enterprise", help="register enterprises and manage their keys")
    enterprise_commands = enterprise.add_subparsers(dest="action", required=True)
    add = enterprise_commands.add_parser("add", help="register an enterprise; prints its gateway key")
    add.add_argument("--code", required=True, help="统一社会信用代码 (18 characters)")
    add.add_argument("--name", required=True)
    add.add_argument("--region", required=True, help="行政区划代码 (6 digits)")
    add.add_argument("--industry", default="", help="e.g. steel, coking, cement, power")
    add.set_defaults(run=cmd_enterprise_add)
    key = enterprise_commands.add_parser("key", help="issue a new gateway key, or revoke all")
    key.add_argument("--code", required=True)
    key.add_argument("--revoke", action="store_true")
    key.set_defaults(run=cmd_enterprise_key)

    staff = commands.add_parser("staff", help="bureau staff tokens")
    staff_commands = staff.add_subparsers(dest="action", required=True)
    staff_add = staff_commands.add_parser("add", help="issue a staff token")
    staff_add.add_argument("--name", required=True)
    staff_add.add_argument("--role", required=True, choices=["viewer", "admin"])
    staff_add.add_argument("--region", default="", help="行政区划代码 prefix: 2, 4 or 6 digits; empty = national")
    staff_add.set_defaults(run=cmd_staff_add)

    validate = commands.add_parser("validate", help="check a payload offline against schemas/")
    validate.add_argument("file")
    validate.add_argument("--kind", required=True, choices=sorted(RECORD_SCHEMAS))
    validate.set_defaults(run=cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    from service.errors import ServiceError

    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ServiceError as exc:
        return _fail(exc.message)


if __name__ == "__main__":
    sys.exit(main())

"""Register enterprises for a load test and write their gateway keys, one "code key" per line.

    python -m loadtests.provision --count 20 --out var/load-keys.txt

Uses the same database as `hj1321` (DATABASE_URL, or the embedded server under ./var/).
"""

import argparse
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.cli import _database_url, _in_session
from service.config import get_settings
from service.enterprises.service import add_enterprise

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def enterprise_code(rng: random.Random) -> str:
    return "91130203" + "".join(rng.choices(_USCC_CHARS, k=10))


async def register_enterprises(session: Any, count: int, name: str,
                               region_code: str = "130203") -> list[tuple[int, str, str]]:
    """(id, code, key) of `count` new enterprises in one Tangshan district, through the service's own code."""
    rng = random.Random()
    registered = []
    for number in range(count):
        enterprise, key = await add_enterprise(session, code=enterprise_code(rng), name=f"{name}{number}",
                                               region_code=region_code, industry="steel", now=datetime.now(UTC))
        assert enterprise.id is not None
        registered.append((enterprise.id, enterprise.code, key.secret))
    return registered


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("var/load-keys.txt"))
    args = parser.parse_args()
    registered = _in_session(_database_url(get_settings()),
                             lambda session: register_enterprises(session, args.count, "压测企业"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(f"{code} {key}\n" for _, code, key in registered), encoding="utf-8")
    print(f"{len(registered)} enterprises registered; keys in {args.out}")


if __name__ == "__main__":
    main()

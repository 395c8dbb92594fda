"""Register enterprises for a load test and write their gateway keys, one "code key" per line.

    python -m loadtests.provision --count 20 --out var/load-keys.txt

Uses the same database as `hj1321` (DATABASE_URL, or the embedded server under ./var/).
"""

import argparse
import random
from pathlib import Path
from typing import Any

from service.cli import _database_url, _in_session
from service.config import get_settings
from service.enterprises.service import add_enterprise

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def enterprise_code(rng: random.Random) -> str:
    return "91130203" + "".join(rng.choices(_USCC_CHARS, k=10))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("var/load-keys.txt"))
    args = parser.parse_args()
    rng = random.Random()

    async def work(session: Any) -> list[tuple[str, str]]:
        pairs = []
        for number in range(args.count):
            enterprise, key = await add_enterprise(session, code=enterprise_code(rng), name=f"压测企业{number}",
                                                   region_code="130203", industry="steel")
            pairs.append((enterprise.code, key))
        return pairs

    pairs = _in_session(_database_url(get_settings()), work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(f"{code} {key}\n" for code, key in pairs), encoding="utf-8")
    print(f"{len(pairs)} enterprises registered; keys in {args.out}")


if __name__ == "__main__":
    main()

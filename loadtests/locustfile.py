"""Gateways under load: steady batches, single records, a resend storm and a 补传 backfill burst.

    python -m loadtests.provision --count 20 --out var/load-keys.txt
    locust -f loadtests/locustfile.py --headless -u 40 -r 10 -t 2m --host http://127.0.0.1:8000

Keys come from HJ1321_LOAD_KEYS (default var/load-keys.txt). Every scenario is bounded by -t.
"""

import itertools
import os
import random
import sys
from pathlib import Path
from typing import Any

from locust import HttpUser, between, constant_throughput, task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadtests.generator import RecordGenerator

_KEYS = [line.split() for line in Path(os.environ.get("HJ1321_LOAD_KEYS", "var/load-keys.txt"))
         .read_text(encoding="utf-8").splitlines() if line.strip()]
_NEXT = itertools.count()


class Gateway(HttpUser):
    abstract = True

    def on_start(self) -> None:
        number = next(_NEXT)
        code, key = _KEYS[number % len(_KEYS)]
        self.generator = RecordGenerator(seed=number, enterprise_code=code)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post_batch(self, body: dict[str, Any], name: str) -> None:
        with self.client.post("/api/v1/movements", json=body, headers=self.headers, name=name,
                              catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            elif response.json()["rejected"]:
                response.failure(f"{response.json()['rejected']} records rejected")


class SteadyBatchGateway(Gateway):
    """A plant's gateway uploading what its barriers saw, in batches of up to 500."""

    weight = 3
    wait_time = between(1, 3)

    @task
    def upload(self) -> None:
        self.post_batch(self.generator.batch(random.choice([50, 100, 200, 500])), "batch")


class SingleRecordGateway(Gateway):
    """A gateway that posts each pass the moment the barrier lifts."""

    weight = 3
    wait_time = constant_throughput(5)

    @task
    def upload(self) -> None:
        self.post_batch(self.generator.batch(1), "single record")


class ResendStormGateway(Gateway):
    """A gateway back from an outage resending everything it is not sure was taken: mostly duplicates."""

    weight = 1
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        super().on_start()
        self.sent: list[dict[str, Any]] = []

    @task
    def resend(self) -> None:
        fresh = self.generator.batch(100)
        self.sent.append(fresh)
        old = random.choice(self.sent)
        body = {"enterpriseCode": fresh["enterpriseCode"],
                "records": old["records"][:300] + fresh["records"][:random.randint(0, 100)]}
        self.post_batch(body, "resend storm")
        del self.sent[:-20]


class BackfillBurstGateway(Gateway):
    """补传: a gateway uploading whole past days after a long outage."""

    weight = 1
    wait_time = between(0.2, 1)

    @task
    def backfill(self) -> None:
        self.post_batch(self.generator.backfill_batch(500, days_ago=random.randint(1, 60)), "backfill")

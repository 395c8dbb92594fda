"""Seeded, realistic gate records: Hebei plates, VINs with valid check digits, a real stage mix.

Shared by the locust scenarios and the throughput benchmark, so both post the same kind of traffic.
"""

import random
import string
from datetime import datetime, timedelta, timezone
from typing import Any

from service.ingest.rules import vin_check_digit

BEIJING = timezone(timedelta(hours=8))
_PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
# Roughly what the bulk-goods fleets at Tangshan gates look like in 2026.
_STAGES = [("6", 55), ("5", 18), ("4", 4), ("3", 2), ("D", 19), ("X", 2)]
_GOODS_IN = ["洗精煤", "铁精粉", "焦煤", "石灰石", "球团矿"]
_GOODS_OUT = ["焦炭", "钢卷", "水泥熟料", "空车"]
_FLEETS = ["唐山某物流有限公司", "迁安运输集团", "自有车队", "曹妃甸物流"]


class RecordGenerator:
    def __init__(self, seed: int, enterprise_code: str, gates: int = 3) -> None:
        self.random = random.Random(seed)
        self.enterprise_code = enterprise_code
        self.barriers = [(str(g), f"{b:02d}") for g in range(1, gates + 1) for b in (1, 2)]
        self.seq = dict.fromkeys(self.barriers, 0)
        self.prefix = "".join(self.random.choices(string.ascii_uppercase, k=4))
        self.count = 0

    def vin(self) -> str:
        chars = self.random.choices(_VIN_CHARS, k=17)
        chars[0:3] = list(self.random.choice(["LZZ", "LFW", "LGA", "LRD"]))
        chars[8] = "0"
        chars[8] = vin_check_digit("".join(chars))
        return "".join(chars)

    def register_date(self) -> str:
        return f"20{self.random.randint(15, 25)}-0{self.random.randint(1, 9)}-{self.random.randint(10, 28)}"

    def plate(self, new_energy: bool) -> str:
        serial = "".join(self.random.choices(_PLATE_CHARS, k=5))
        return f"冀B{self.random.choice('DF')}{serial}" if new_energy else f"冀B{serial}"

    def movement(self, pass_time: datetime | None = None, **overrides: Any) -> dict[str, Any]:
        self.count += 1
        gate, barrier = self.random.choice(self.barriers)
        self.seq[(gate, barrier)] += 1
        stage = self.random.choices([s for s, _ in _STAGES], weights=[w for _, w in _STAGES])[0]
        electric = stage == "D"
        inbound = self.random.random() < 0.5
        goods = self.random.choice(_GOODS_IN if inbound else _GOODS_OUT)
        moment = pass_time or datetime.now(BEIJING) - timedelta(seconds=self.random.randint(5, 120))
        record: dict[str, Any] = {
            "recordId": f"{self.prefix}-G{gate}{barrier}-{self.count:09d}",
            "gateNo": gate,
            "barrierNo": barrier,
            "direction": "1" if inbound else "2",
            "passTime": moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "passPhoto": f"sha256:{self.random.getrandbits(256):064x}",
            "plateNo": self.plate(electric),
            "plateColor": "6" if electric else "1",
            "vehicleType": self.random.choice(["Q11", "Q11", "H11", "H12"]),
            "vin": self.vin(),
            "registerDate": self.register_date(),
            "vehicleModel": "ZZ4257V384JF1",
            "engineModel": "TZ400XS" if electric else "MC13.54-61",
            "engineMaker": "某电机有限公司" if electric else "中国重型汽车集团有限公司",
            "engineNo": f"E{self.random.randint(10**9, 10**10 - 1)}",
            "fuelType": "C" if electric else "B",
            "emissionStandard": stage,
            "useNature": "F",
            "networkStatus": "1" if self.random.random() < 0.9 else "0",
            "listPhoto": f"sha256:{self.random.getrandbits(256):064x}",
            "goodsName": goods,
            "goodsAmount": 0.0 if goods == "空车" else round(self.random.uniform(25, 40), 1),
            "fleetName": self.random.choice(_FLEETS),
            "seq": self.seq[(gate, barrier)],
        }
        record.update(overrides)
        return record

    def batch(self, size: int, **overrides: Any) -> dict[str, Any]:
        return {"enterpriseCode": self.enterprise_code, "records": [self.movement(**overrides) for _ in range(size)]}

    def backfill_batch(self, size: int, days_ago: int) -> dict[str, Any]:
        """Records of a past day, flagged 补传, as a gateway sends them after an outage."""
        day = datetime.now(BEIJING) - timedelta(days=days_ago)
        records = [self.movement(pass_time=day.replace(hour=0, minute=0, second=0)
                                 + timedelta(seconds=self.random.randint(0, 86_399)), reupload=True)
                   for _ in range(size)]
        return {"enterpriseCode": self.enterprise_code, "records": records}

"""Valid records and enterprises to start tests from; each test changes only what it is about."""

import hashlib
import itertools
import random
import secrets
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

BEIJING = timezone(timedelta(hours=8))
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_counter = itertools.count(1)


@dataclass(frozen=True)
class Enterprise:
    id: int
    code: str
    key: str
    key_id: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def new_enterprise_code() -> str:
    return "91130203" + "".join(random.choice(_USCC_CHARS) for _ in range(10))


def beijing(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def movement(**overrides: Any) -> dict[str, Any]:
    """A complete movement record that passed its barrier a minute ago."""
    number = next(_counter)
    record = {
        "recordId": f"T-{secrets.token_hex(6)}-{number}",
        "gateNo": "1",
        "barrierNo": "01",
        "direction": "1",
        "passTime": beijing(datetime.now(BEIJING) - timedelta(minutes=1)),
        "passPhoto": f"sha256:{'a' * 64}",
        "plateNo": "冀B12345",
        "plateColor": "1",
        "vehicleType": "Q11",
        "vin": "LZZ1BLSF2KD123456",
        "registerDate": "2021-03-15",
        "vehicleModel": "ZZ4257V384JF1",
        "engineModel": "MC13.54-61",
        "engineMaker": "中国重型汽车集团有限公司",
        "engineNo": "221117123456",
        "fuelType": "B",
        "emissionStandard": "6",
        "useNature": "F",
        "networkStatus": "1",
        "listPhoto": f"sha256:{'b' * 64}",
        "goodsName": "洗精煤",
        "goodsAmount": 34.6,
        "fleetName": "唐山某物流有限公司",
        "seq": number,
    }
    record.update(overrides)
    return record


def inplant_vehicle(**overrides: Any) -> dict[str, Any]:
    record = {
        "envRegCode": f"130203-NB-{secrets.token_hex(4)}",
        "vin": "LRDS6PEB6XNT00042",
        "productionDate": "2023-05-10",
        "plateNo": "冀B00042D",
        "registerDate": "2023-06-01",
        "vehicleModel": "SX4250MB4EV",
        "engineModel": "TZ366XS",
        "engineMaker": "某电机有限公司",
        "engineNo": "M2305100042",
        "fuelType": "C",
        "emissionStandard": "D",
        "licensePhoto": f"sha256:{'c' * 64}",
        "listPhoto": f"sha256:{'d' * 64}",
        "owner": "唐山某焦化有限公司",
    }
    record.update(overrides)
    return record


def nonroad_machinery(**overrides: Any) -> dict[str, Any]:
    record = {
        "envRegCode": f"13B-FD-{secrets.token_hex(4)}",
        "productionDate": "2022-08-01",
        "emissionStandard": "4",
        "fuelType": "B",
        "machineryType": "1",
        "pin": "LGZL50A0422080042",
        "machineryModel": "LW500KV",
        "engineModel": "WP10G240E",
        "engineMaker": "潍柴动力股份有限公司",
        "engineNo": "1622080042",
        "machineNameplatePhoto": f"sha256:{'e' * 64}",
        "engineNameplatePhoto": f"sha256:{'f' * 64}",
        "envLabelPhoto": f"sha256:{'0' * 63}1",
        "owner": "唐山某焦化有限公司",
    }
    record.update(overrides)
    return record


def volume(**overrides: Any) -> dict[str, Any]:
    record = {
        "recordId": f"V-{secrets.token_hex(6)}",
        "date": (datetime.now(BEIJING) - timedelta(days=1)).date().isoformat(),
        "mode": "rail",
        "direction": "1",
        "goodsName": "铁精粉",
        "tonnes": 3200.5,
    }
    record.update(overrides)
    return record


def batch(enterprise: Enterprise, *records: dict[str, Any]) -> dict[str, Any]:
    return {"enterpriseCode": enterprise.code, "records": list(records)}


def png_bytes(seed: int | None = None) -> bytes:
    """A real, tiny PNG whose pixel makes its hash unique."""
    seed = random.getrandbits(24) if seed is None else seed

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixel = bytes([0, (seed >> 16) & 255, (seed >> 8) & 255, seed & 255])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(pixel)) + chunk(b"IEND", b""))


def jpeg_bytes(size: int = 1000) -> bytes:
    """JPEG magic followed by random bytes: enough for a service that checks the format by its magic."""
    return b"\xff\xd8\xff\xe0" + secrets.token_bytes(size - 4)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

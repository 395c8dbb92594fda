"""Example uploads for gateway vendors and the demo: every kind of record, with times relative to now (so they
never fall out of the retention window) and real tiny photos whose hashes match their references.

`hj1321 samples DIR` writes them; `serve --demo` loads a week of such traffic for the demo plant; the tests
and the OpenAPI examples use the same documents."""

import base64
import hashlib
import random
import struct
import zlib
from datetime import datetime, timedelta
from typing import Any

from service.ingest.payloads import BEIJING

DEMO_ENTERPRISE_CODE = "91130203MA0EXAMPLE"
_TIME = "%Y-%m-%d %H:%M:%S"


def tiny_png(rgb: tuple[int, int, int], size: int = 8) -> bytes:
    """A real PNG of one colour: what a camera would send, small enough to print."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def sha256_ref(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


# One colour per photo item, so each has its own hash.
PHOTOS = {item: tiny_png(rgb) for item, rgb in {
    "passPhoto": (90, 110, 130), "listPhoto": (200, 180, 40), "licensePhoto": (30, 120, 60),
    "inplantLicensePhoto": (60, 60, 160), "machineNameplatePhoto": (150, 40, 40),
    "engineNameplatePhoto": (90, 90, 90), "envLabelPhoto": (20, 160, 160)}.items()}

_TRUCK = {"plateNo": "冀B12345", "plateColor": "1", "vehicleType": "Q11", "vin": "LZZ1BLSF2KD123456",
          "registerDate": "2021-03-15", "vehicleModel": "ZZ4257V384JF1", "engineModel": "MC13.54-61",
          "engineMaker": "中国重型汽车集团有限公司", "engineNo": "221117123456", "fuelType": "B",
          "emissionStandard": "6", "useNature": "F", "networkStatus": "1", "goodsName": "洗精煤",
          "goodsAmount": 34.6, "fleetName": "唐山某物流有限公司"}
_ELECTRIC_TRUCK = {"plateNo": "冀B03216D", "plateColor": "6", "vehicleType": "Q11", "vin": "LFWSRXRJ51MA00001",
                   "registerDate": "2024-06-01", "vehicleModel": "CA4250P66T1E6A80", "engineModel": "TZ400XS",
                   "engineMaker": "某电机有限公司", "engineNo": "E240601001", "fuelType": "C",
                   "emissionStandard": "D", "useNature": "F", "networkStatus": "1", "goodsName": "焦炭",
                   "goodsAmount": 31.2, "fleetName": "自有车队"}
# What each invalid record gets wrong, in the order the service reports them.
_INVALID = [{"emissionStandard": "7"}, {"plateColor": "9"}, {"vin": "LZZ1BLSF0KD12345O"},
            {"passTime": "2026-13-40 25:00:00"}, {"direction": "3"}, {"plateNo": "ABC123"}]


def documents(enterprise_code: str = DEMO_ENTERPRISE_CODE, now: datetime | None = None) -> dict[str, Any]:
    """File name -> document: a batch of each kind (valid), one invalid batch, a heartbeat, a manifest, and the
    photos named by reference (photos/<sha256>.png, bytes) for `PUT /api/v1/photos/{sha256}`."""
    now = (now or datetime.now(BEIJING)).astimezone(BEIJING).replace(microsecond=0)
    entry, exit_ = now - timedelta(minutes=4), now - timedelta(minutes=2)  # inside the timeliness window
    day = entry.strftime("%Y%m%d")
    movements = [
        {"recordId": f"G1-{day}-000001", "gateNo": "1", "barrierNo": "01", "direction": "1",
         "passTime": entry.strftime(_TIME), "passPhoto": data_uri(PHOTOS["passPhoto"]), **_TRUCK,
         "listPhoto": sha256_ref(PHOTOS["listPhoto"]), "seq": 1},
        {"recordId": f"G1-{day}-000002", "gateNo": "1", "barrierNo": "02", "direction": "2",
         "passTime": exit_.strftime(_TIME), **_ELECTRIC_TRUCK, "licensePhoto": sha256_ref(PHOTOS["licensePhoto"]),
         "seq": 1},
    ]
    invalid = [{**movements[0], "passPhoto": sha256_ref(PHOTOS["passPhoto"]), "recordId": f"BAD-{n}", **wrong}
               for n, wrong in enumerate(_INVALID, start=1)]
    produced = (now - timedelta(days=540)).date()
    found: dict[str, Any] = {
        "movements.valid.json": {"enterpriseCode": enterprise_code, "records": movements},
        "movements.invalid.json": {"enterpriseCode": enterprise_code, "records": invalid},
        "inplant-vehicles.valid.json": {"enterpriseCode": enterprise_code, "records": [{
            "envRegCode": "130203-NB-000123", "vin": "LRDS6PEB6XNT00042", "productionDate": produced.isoformat(),
            "plateNo": "冀B00042D", "registerDate": (produced + timedelta(days=22)).isoformat(),
            "vehicleModel": "SX4250MB4EV", "engineModel": "TZ366XS", "engineMaker": "某电机有限公司",
            "engineNo": "M2305100042", "fuelType": "C", "emissionStandard": "D",
            "licensePhoto": sha256_ref(PHOTOS["inplantLicensePhoto"]), "owner": "唐山某焦化有限公司"}]},
        "nonroad-machinery.valid.json": {"enterpriseCode": enterprise_code, "records": [{
            "envRegCode": "13B-FD-2023-0042", "productionDate": produced.isoformat(), "emissionStandard": "4",
            "fuelType": "B", "machineryType": "1", "pin": "LGZL50A0422080042", "machineryModel": "LW500KV",
            "engineModel": "WP10G240E", "engineMaker": "潍柴动力股份有限公司", "engineNo": "1622080042",
            "machineNameplatePhoto": sha256_ref(PHOTOS["machineNameplatePhoto"]),
            "engineNameplatePhoto": sha256_ref(PHOTOS["engineNameplatePhoto"]),
            "envLabelPhoto": sha256_ref(PHOTOS["envLabelPhoto"]), "owner": "唐山某焦化有限公司"}]},
        "clean-transport-volumes.valid.json": {"enterpriseCode": enterprise_code, "records": [{
            "recordId": f"RAIL-{day}", "date": (now - timedelta(days=1)).date().isoformat(), "mode": "rail",
            "direction": "1", "tonnes": 5200.0, "goodsName": "焦煤"}]},
        "heartbeat.json": {"enterpriseCode": enterprise_code, "sentAt": now.strftime(_TIME)},
        "manifest.json": {"enterpriseCode": enterprise_code, "date": entry.date().isoformat(), "barriers": [
            {"gateNo": "1", "barrierNo": "01", "count": 1, "recordIds": [movements[0]["recordId"]]},
            {"gateNo": "1", "barrierNo": "02", "count": 1, "recordIds": [movements[1]["recordId"]]}]},
    }
    for item, data in PHOTOS.items():
        if item != "passPhoto":  # sent inline above
            found[f"photos/{hashlib.sha256(data).hexdigest()}.png"] = data
    return found


def _vin(serial: int) -> str:
    from service.ingest.rules import vin_check_digit

    vin = f"LZZ1BLSF0KD{serial:06d}"
    return vin[:8] + vin_check_digit(vin) + vin[9:]


def demo_week(enterprise_code: str = DEMO_ENTERPRISE_CODE,
              now: datetime | None = None, per_day: int = 120) -> list[tuple[datetime, dict[str, Any]]]:
    """Seven days of a coking plant's gate up to now, as (received at, batch): trucks of every stage and fuel
    entering and leaving within hours, uploaded each hour, a few records incomplete and a few sent late."""
    now = (now or datetime.now(BEIJING)).astimezone(BEIJING).replace(microsecond=0)
    rng = random.Random(1321)
    fleet = []
    for n in range(40):
        stage, fuel = rng.choices([("6", "B"), ("6", "E"), ("5", "B"), ("4", "B"), ("D", "C"), ("X", "B")],
                                  weights=[45, 10, 15, 10, 15, 5])[0]
        truck = {**(_ELECTRIC_TRUCK if fuel == "C" else _TRUCK), "plateNo": f"冀B{10000 + n * 37:05d}",
                 "vin": _vin(n), "fuelType": fuel, "emissionStandard": stage,
                 "goodsName": rng.choice(["洗精煤", "焦炭", "石灰石", "煤焦油"]),
                 "goodsAmount": round(rng.uniform(25, 35), 1)}
        photo = "licensePhoto" if fuel == "C" else "listPhoto"
        truck[photo] = sha256_ref(PHOTOS[photo])
        if rng.random() < 0.1:
            del truck["fleetName"]  # an incomplete record now and then
        fleet.append(truck)
    passes: list[dict[str, Any]] = []
    start = (now - timedelta(days=7)).replace(hour=0, minute=0, second=0)
    seq = {"01": 0, "02": 0}
    for day in range(8):
        for _ in range(per_day // 2):
            entered = start + timedelta(days=day, seconds=rng.randrange(6 * 3600, 22 * 3600))
            truck = rng.choice(fleet)
            for direction, barrier, moment in (("1", "01", entered),
                                               ("2", "02", entered + timedelta(minutes=rng.randrange(30, 240)))):
                if moment < now:
                    passes.append({**truck, "gateNo": "1", "barrierNo": barrier, "direction": direction,
                                   "passTime": moment, "goodsAmount": truck["goodsAmount"] if direction == "1"
                                   else 0.0})
    passes.sort(key=lambda p: p["passTime"])
    uploads: dict[datetime, list[dict[str, Any]]] = {}
    for record in passes:
        barrier, moment = record["barrierNo"], record["passTime"]
        seq[barrier] += 1
        record.update(recordId=f"DEMO-{moment:%Y%m%d}-{barrier}-{seq[barrier]:06d}", seq=seq[barrier],
                      passTime=moment.strftime(_TIME), passPhoto=sha256_ref(PHOTOS["passPhoto"]))
        # Uploaded within the minute, but one in thirty only when the link came back hours later (补传).
        late = rng.random() < 1 / 30
        received = min(now, moment + (timedelta(hours=rng.randrange(2, 6)) if late else timedelta(seconds=30)))
        record["reupload"] = late
        uploads.setdefault(received.replace(minute=0, second=0) + timedelta(hours=1) if late else received, []
                           ).append(record)
    inline = set()  # each photo arrives once, inline; later records name it by its hash
    for at in sorted(uploads):
        for record in uploads[at]:
            for item in ("passPhoto", "listPhoto", "licensePhoto"):
                if item in record and item not in inline:
                    record[item] = data_uri(PHOTOS[item])
                    inline.add(item)
    return [(min(now, at), {"enterpriseCode": enterprise_code, "records": records})
            for at, records in sorted(uploads.items())]

"""Photos: content-addressed uploads, inline photos in records, and records waiting for photos."""

import asyncio
import base64

from tests.conftest import scalar
from tests.factories import batch, inplant_vehicle, jpeg_bytes, movement, png_bytes, sha256_hex


async def put(client, enterprise, data: bytes, *, sha256: str | None = None, content_type: str = "image/png"):
    return await client.put(f"/api/v1/photos/{sha256 or sha256_hex(data)}", content=data,
                            headers={**enterprise.auth, "Content-Type": content_type})


def held(settings, data: bytes) -> bytes | None:
    """What the photo store holds under the bytes' hash: <data dir>/photos/ab/cd/abcd…."""
    sha256 = sha256_hex(data)
    path = settings.data_dir / "photos" / sha256[:2] / sha256[2:4] / sha256
    return path.read_bytes() if path.exists() else None


async def test_upload_is_201_then_200_and_the_bytes_are_kept(client, engine, plant, settings):
    data = png_bytes()
    first = await put(client, plant, data)
    assert first.status_code == 201 and first.json() == {"sha256": sha256_hex(data), "size": len(data),
                                                          "stored": True}
    again = await put(client, plant, data)
    assert again.status_code == 200 and again.json()["stored"] is False
    assert held(settings, data) == data  # in the photo store; the database keeps only its metadata
    assert await scalar(engine, "SELECT size_bytes FROM photo WHERE sha256 = :h", h=sha256_hex(data)) == len(data)
    assert await scalar(engine, "SELECT count(*) FROM information_schema.columns "
                                "WHERE table_name = 'photo' AND data_type = 'bytea'") == 0
    assert await scalar(engine, "SELECT content_type FROM photo WHERE sha256 = :h", h=sha256_hex(data)) \
        == "image/png"


async def test_hash_must_match_the_bytes(client, engine, plant):
    data = png_bytes()
    response = await put(client, plant, data, sha256="0" * 64)
    assert response.status_code == 422 and response.json()["error"] == "hash_mismatch"
    assert response.json()["detail"]["actual"] == sha256_hex(data)
    assert await scalar(engine, "SELECT count(*) FROM photo WHERE sha256 = :h", h=sha256_hex(data)) == 0


async def test_only_jpeg_and_png_are_taken(client, plant):
    gif = b"GIF89a" + b"\x00" * 100
    assert (await put(client, plant, gif)).status_code == 415
    assert (await put(client, plant, png_bytes(), content_type="text/plain")).status_code == 415
    assert (await put(client, plant, jpeg_bytes(), content_type="image/jpeg")).status_code == 201


async def test_photo_over_2_mib_is_413(client, plant):
    response = await put(client, plant, jpeg_bytes(2 * 1024 * 1024 + 1), content_type="image/jpeg")
    assert response.status_code == 413


async def test_path_must_be_a_sha256(client, plant):
    response = await client.put("/api/v1/photos/not-a-hash", content=png_bytes(),
                                headers={**plant.auth, "Content-Type": "image/png"})
    assert response.status_code == 422 and response.json()["error"] == "invalid_sha256"


async def test_upload_needs_a_key(client):
    data = png_bytes()
    response = await client.put(f"/api/v1/photos/{sha256_hex(data)}", content=data,
                                headers={"Content-Type": "image/png"})
    assert response.status_code == 401


async def test_inline_photo_is_stored_and_the_record_keeps_its_hash(client, engine, plant, settings):
    data = png_bytes()
    record = movement(passPhoto="data:image/png;base64," + base64.b64encode(data).decode())
    answer = (await client.post("/api/v1/movements", json=batch(plant, record), headers=plant.auth)).json()
    assert answer["results"][0]["status"] == "accepted"
    assert await scalar(engine, "SELECT pass_photo FROM movement WHERE record_id = :r", r=record["recordId"]) \
        == f"sha256:{sha256_hex(data)}"
    assert held(settings, data) == data
    # The same record naming the photo by its hash is the same content.
    by_hash = {**record, "passPhoto": f"sha256:{sha256_hex(data)}"}
    again = (await client.post("/api/v1/movements", json=batch(plant, by_hash), headers=plant.auth)).json()
    assert again["results"][0]["status"] == "duplicate"


async def test_bad_inline_photos_reject_only_their_record(client, engine, plant):
    too_big = "data:image/jpeg;base64," + base64.b64encode(jpeg_bytes(1024 * 1024 + 10)).decode()
    not_an_image = "data:image/png;base64," + base64.b64encode(b"hello world, not a png").decode()
    broken = "data:image/png;base64,AAAA===="
    good = movement()
    records = [movement(passPhoto=too_big), movement(listPhoto=not_an_image), movement(licensePhoto=broken), good]
    answer = (await client.post("/api/v1/movements", json=batch(plant, *records), headers=plant.auth)).json()
    assert [[(e["field"], e["code"]) for e in r.get("errors", [])] for r in answer["results"]] == [
        [("passPhoto", "photo_too_large")], [("listPhoto", "photo_format")], [("licensePhoto", "pattern")], []]
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=plant.id) == 1


async def test_record_waits_for_its_photos_and_completes_when_they_arrive(client, engine, plant):
    pass_photo, list_photo = png_bytes(), png_bytes()
    record = movement(passPhoto=f"sha256:{sha256_hex(pass_photo)}", listPhoto=f"sha256:{sha256_hex(list_photo)}")
    vehicle = inplant_vehicle(listPhoto=f"sha256:{sha256_hex(list_photo)}",
                              licensePhoto=f"sha256:{sha256_hex(pass_photo)}")
    answer = (await client.post("/api/v1/movements", json=batch(plant, record), headers=plant.auth)).json()
    await client.post("/api/v1/inplant-vehicles", json=batch(plant, vehicle), headers=plant.auth)
    assert [w["code"] for w in answer["results"][0]["warnings"]] == ["photo_pending", "photo_pending"]

    async def state() -> tuple:
        return (await scalar(engine, "SELECT json_build_array(complete, cardinality(missing_photos)) FROM movement "
                                     "WHERE record_id = :r", r=record["recordId"]),
                await scalar(engine, "SELECT complete FROM inplant_vehicle WHERE env_reg_code = :k",
                             k=vehicle["envRegCode"]))

    assert await state() == ([False, 2], False)
    await put(client, plant, pass_photo)
    assert await state() == ([False, 1], False)
    await put(client, plant, list_photo)
    assert await state() == ([True, 0], True)


async def test_photo_already_held_is_not_pending(client, plant):
    data = png_bytes()
    await put(client, plant, data)
    record = movement(passPhoto=f"sha256:{sha256_hex(data)}", listPhoto=f"sha256:{sha256_hex(data)}")
    answer = (await client.post("/api/v1/movements", json=batch(plant, record), headers=plant.auth)).json()
    assert answer["results"][0]["warnings"] == []


async def test_inline_photo_in_a_batch_completes_earlier_records_waiting_for_it(client, engine, plant):
    data = png_bytes()
    waiting = movement(passPhoto=f"sha256:{sha256_hex(data)}", listPhoto=f"sha256:{sha256_hex(data)}")
    await client.post("/api/v1/movements", json=batch(plant, waiting), headers=plant.auth)
    carrier = movement(passPhoto="data:image/png;base64," + base64.b64encode(data).decode())
    await client.post("/api/v1/movements", json=batch(plant, carrier), headers=plant.auth)
    assert await scalar(engine, "SELECT complete FROM movement WHERE record_id = :r", r=waiting["recordId"]) is True


async def test_a_photo_arriving_beside_its_record_is_never_missed(client, engine, plant):
    # The record's transaction and the upload's commit side by side, in both orders, many times.
    records = []
    for _ in range(25):
        data = png_bytes()
        record = movement(passPhoto=f"sha256:{sha256_hex(data)}", listPhoto=f"sha256:{sha256_hex(data)}")
        records.append(record)
        answers = await asyncio.gather(
            client.post("/api/v1/movements", json=batch(plant, record), headers=plant.auth),
            put(client, plant, data))
        assert [a.status_code for a in answers] == [200, 201]
    waiting = await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e "
                                   "AND cardinality(missing_photos) > 0", e=plant.id)
    assert waiting == 0


async def test_a_named_photo_is_a_placeholder_until_its_bytes_arrive(client, engine, plant, settings):
    data = png_bytes()
    first = movement(passPhoto=f"sha256:{sha256_hex(data)}")
    second = movement(listPhoto=f"sha256:{sha256_hex(data)}")
    for record in (first, second):
        answer = (await client.post("/api/v1/movements", json=batch(plant, record), headers=plant.auth)).json()
        assert "photo_pending" in [w["code"] for w in answer["results"][0]["warnings"]]
    assert await scalar(engine, "SELECT received_at IS NULL FROM photo WHERE sha256 = :h", h=sha256_hex(data))
    assert held(settings, data) is None
    stored = await put(client, plant, data)
    assert stored.status_code == 201 and stored.json()["stored"] is True
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e "
                                "AND :h = ANY(missing_photos)", e=plant.id, h=sha256_hex(data)) == 0


async def staff(engine, region: str) -> dict[str, str]:
    from tests.conftest import staff_token

    return await staff_token(engine, region=region)


async def test_a_photo_is_readable_by_every_bureau_whose_plant_uploaded_or_named_it(client, engine):
    from tests.conftest import register

    tangshan = await register(engine, region_code="130203")  # names the photo first, never uploads it
    beijing = await register(engine, region_code="110105")  # uploads it
    shanxi = await register(engine, region_code="140105")  # neither
    data = png_bytes()
    named = await client.post("/api/v1/movements", headers=tangshan.auth,
                              json=batch(tangshan, movement(passPhoto=f"sha256:{sha256_hex(data)}")))
    assert named.json()["accepted"] == 1
    assert (await put(client, beijing, data)).status_code == 201
    for region in ("13", "11"):
        response = await client.get(f"/api/v1/photos/{sha256_hex(data)}", headers=await staff(engine, region))
        assert response.status_code == 200 and response.content == data, region
    outside = await client.get(f"/api/v1/photos/{sha256_hex(data)}", headers=await staff(engine, "14"))
    assert outside.status_code == 403 and outside.json()["error"] == "outside_jurisdiction"
    assert shanxi.code  # registered, but its bureau sees nothing of the photo


async def test_an_earlier_version_naming_a_photo_still_grants_it(client, engine, plant):
    from tests.conftest import register

    data = png_bytes()
    uploader = await register(engine, region_code="110105")
    await put(client, uploader, data)
    record = movement(passPhoto=f"sha256:{sha256_hex(data)}")
    await client.post("/api/v1/movements", json=batch(plant, record), headers=plant.auth)
    corrected = {**record, "passPhoto": f"sha256:{'1' * 64}"}
    assert (await client.post("/api/v1/movements", json=batch(plant, corrected), headers=plant.auth)).json()[
        "updated"] == 1
    response = await client.get(f"/api/v1/photos/{sha256_hex(data)}", headers=await staff(engine, "1302"))
    assert response.status_code == 200


async def test_a_photo_is_served_so_no_browser_runs_it(client, engine, plant):
    disguised = b"\xff\xd8\xff<html><script>alert(document.cookie)</script></html>"
    assert (await put(client, plant, disguised, content_type="image/jpeg")).status_code == 201
    response = await client.get(f"/api/v1/photos/{sha256_hex(disguised)}", headers=await staff(engine, "13"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["content-disposition"] == f'inline; filename="{sha256_hex(disguised)}.jpg"'
    assert response.headers["cache-control"] == "no-store"


async def test_the_store_writes_whole_files_under_sharded_names_and_a_lost_file_is_503(client, engine, plant,
                                                                                       settings):
    from tests.conftest import staff_token

    data = png_bytes()
    assert (await put(client, plant, data)).status_code == 201
    sha256 = sha256_hex(data)
    folder = settings.data_dir / "photos" / sha256[:2] / sha256[2:4]
    # Whole, under its name, and no temporary file left beside it (other tests' photos may share the folder).
    names = {p.name for p in folder.iterdir()}
    assert sha256 in names and not [name for name in names if name.endswith(".tmp")]
    viewer = await staff_token(engine)
    assert (await client.get(f"/api/v1/photos/{sha256}", headers=viewer)).content == data
    (folder / sha256).unlink()  # a disk or a mount lost it: the database still says it arrived
    lost = await client.get(f"/api/v1/photos/{sha256}", headers=viewer)
    assert lost.status_code == 503 and lost.json()["error"] == "photo_store_unavailable"
    assert int(lost.headers["Retry-After"]) == settings.retry_after_seconds


def test_an_unknown_photo_store_stops_the_start_in_one_line(tmp_path):
    from tests.serving import hj1321_env, run_hj1321

    result = run_hj1321(["serve"], tmp_path, hj1321_env(HJ1321_PHOTO_STORE="s3://bucket/photos"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "HJ1321_PHOTO_STORE='s3://bucket/photos'" in result.stderr


async def test_a_photo_store_that_cannot_write_is_a_503_that_says_so_and_nothing_is_stored(settings, engine,
                                                                                            tmp_path, caplog):
    # A real failure of the filesystem: the store's folder is a file (as a full disk, a read-only remount or a
    # lost mount fail, with another errno). The answer must name the store, not the database, which is fine.
    from tests.conftest import register
    from tests.serving import serving

    blocked = tmp_path / "photos"
    blocked.write_bytes(b"not a folder")
    plant = await register(engine)
    data = png_bytes()
    record = movement(passPhoto="data:image/png;base64," + base64.b64encode(data).decode())
    async with serving(settings, photo_store=f"file://{blocked}") as (client, _):
        inline = await client.post("/api/v1/movements", json=batch(plant, record), headers=plant.auth)
        uploaded = await put(client, plant, data)
        # Its photos named by hash, not carried: the store is not needed to take it.
        by_hash = await client.post("/api/v1/movements", json=batch(plant, plain := movement()), headers=plant.auth)

    for answer in (inline, uploaded):
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "photo_store_unavailable"
        assert int(answer.headers["Retry-After"]) == settings.retry_after_seconds
        assert str(tmp_path) not in answer.text  # the server's paths are for its operator, in the log
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE record_id = :r", r=record["recordId"]) == 0
    assert await scalar(engine, "SELECT count(*) FROM photo WHERE sha256 = :h", h=sha256_hex(data)) == 0
    assert by_hash.status_code == 200 and by_hash.json()["accepted"] == 1, by_hash.text
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE record_id = :r", r=plain["recordId"]) == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "hj1321"]
    assert any("photo store" in line and str(blocked) in line for line in logged), logged
    assert not any("database" in line for line in logged), logged


async def test_a_photo_the_store_could_not_finish_writing_leaves_nothing_on_its_disk(tmp_path, database_url, engine,
                                                                                     plant):
    # The service may write no file past 1 MiB (RLIMIT_FSIZE): a write stopped part-way, by the kernel, as a
    # disk that fills up during it stops one.
    import sys

    import httpx

    from tests.serving import Server, hj1321_env

    limited = [sys.executable, "-c", "import os, resource, sys; "
               "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20)); "
               "os.execv(sys.executable, [sys.executable, '-m', 'service.cli', *sys.argv[1:]])"]
    photos = tmp_path / "var" / "photos"
    server = Server(tmp_path, hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var")),
                    command=limited)
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
            cut = await put(client, plant, big := jpeg_bytes((1 << 20) + 4096), content_type="image/jpeg")
            assert cut.status_code == 503 and cut.json()["error"] == "photo_store_unavailable", cut.text
            # Not the part it could write, under a temporary name nothing would ever remove: on a full disk,
            # each retry of the upload would leave another.
            assert [path for path in photos.rglob("*") if path.is_file()] == []
            assert await scalar(engine, "SELECT count(*) FROM photo WHERE sha256 = :h", h=sha256_hex(big)) == 0
            small = png_bytes()
            assert (await put(client, plant, small)).status_code == 201  # the store itself still works
            assert [path.name for path in photos.rglob("*") if path.is_file()] == [sha256_hex(small)]
    finally:
        server.stop()

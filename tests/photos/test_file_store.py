"""The filesystem photo store's durability: what a crash right after a photo is acknowledged cannot take."""

import os
from pathlib import Path

from service.photos.store import FilePhotoStore
from tests.factories import png_bytes, sha256_hex


def synced_while(monkeypatch, action) -> list[Path]:
    """The paths fsynced while `action` ran, in order."""
    synced: list[Path] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    action()
    monkeypatch.undo()
    return synced


def test_a_photo_and_every_directory_made_for_it_are_synced_before_it_is_acknowledged(tmp_path, monkeypatch):
    root = tmp_path / "photos"
    store = FilePhotoStore(root)
    data = png_bytes()
    sha256 = sha256_hex(data)
    shard = root / sha256[:2] / sha256[2:4]

    synced = synced_while(monkeypatch, lambda: store.write(sha256, data))

    assert store.read(sha256) == data
    # Each directory made is synced into its parent, so the path to the photo survives a crash with it.
    assert {tmp_path, root, root / sha256[:2], shard} <= set(synced)
    assert synced[-1] == shard  # the rename into place, last
    assert [path for path in synced if path.parent == shard and path.name.endswith(".tmp")]


def test_a_photo_in_a_shard_that_exists_syncs_only_itself_and_its_directory(tmp_path, monkeypatch):
    store = FilePhotoStore(tmp_path)
    first = png_bytes()
    sha256 = sha256_hex(first)
    store.write(sha256, first)
    neighbour = sha256[:4] + "0" * 60  # same shard; the store does not check that bytes match a name
    shard = tmp_path / sha256[:2] / sha256[2:4]

    synced = synced_while(monkeypatch, lambda: store.write(neighbour, b"neighbour"))

    assert len(synced) == 2 and synced[0].parent == shard and synced[1] == shard
    assert synced_while(monkeypatch, lambda: store.write(neighbour, b"neighbour")) == []  # held: a no-op

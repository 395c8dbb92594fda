"""Where photo bytes live: a content-addressed store outside the database, which keeps only each photo's
metadata (type, size, who sent or named it, when it arrived).

Two photos a pass, ~100 KB each, is hundreds of gigabytes a day for a province: carried by the database,
they would weigh on its backups, replicas and vacuum. The store is one small interface; the filesystem
store is the default (a local disk, or a shared mount when several hosts serve). An S3-compatible object
store (what a province would run) is a class with the same three methods, `put` idempotent and durable
when it returns, chosen by HJ1321_PHOTO_STORE's scheme in `photo_store`.
"""

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlparse

from service.config import ConfigurationError, Settings
from service.errors import PhotoStoreUnavailable

logger = logging.getLogger("hj1321")
T = TypeVar("T")


class PhotoStore(Protocol):
    async def put(self, sha256: str, data: bytes) -> None:
        """Keep the bytes under their hash; durable when this returns, a no-op when already held. Every method
        raises PhotoStoreUnavailable when the store cannot do it now."""

    async def get(self, sha256: str) -> bytes | None:
        """The bytes, or None when the store does not hold them."""

    async def delete(self, sha256: str) -> None:
        """Remove the bytes (the retention purge); a no-op when not held."""


class FilePhotoStore:
    """root/ab/cd/abcd…: two levels of 256 directories keep every directory small at billions of photos.

    A photo is written to a temporary name in its directory, fsynced, renamed into place and the directory
    fsynced, so a reader sees the whole photo or none, and a crash never leaves half of one under its hash.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def write(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists():
            return
        _make_directory(target.parent)
        temporary = target.parent / f".{sha256}.{uuid.uuid4().hex}.tmp"
        try:
            with open(temporary, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            # Nothing names a temporary file, so nothing would ever remove it: on a full disk, each retry of the
            # upload would leave the part of a photo it could write, and keep the disk full.
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise
        _sync_directory(target.parent)

    def read(self, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    async def put(self, sha256: str, data: bytes) -> None:
        await self._off_the_loop("keep", self.write, sha256, data)

    async def get(self, sha256: str) -> bytes | None:
        return await self._off_the_loop("give back", self.read, sha256)

    async def delete(self, sha256: str) -> None:
        await self._off_the_loop("remove", self.remove, sha256)

    async def _off_the_loop(self, doing: str, work: Callable[..., T], *args: Any) -> T:
        """The event loop must not wait on the disk: fsync alone can take milliseconds. A disk that fails (full,
        read-only, gone) is the store's failure, said as such: 503 to the caller, the reason in the log."""
        try:
            return await asyncio.to_thread(work, *args)
        except OSError as exc:
            logger.warning("photo store %s cannot %s a photo: %s", self.root, doing, exc)
            raise PhotoStoreUnavailable(f"the photo store cannot {doing} photos now; retry later") from exc


def _make_directory(directory: Path) -> None:
    """Make the directory and any missing parent, each made one synced into its parent: a photo's own fsync
    does not make the directory entries that lead to it durable, and a new shard's would go with a crash."""
    if directory.is_dir():
        return
    _make_directory(directory.parent)
    # Synced whoever made it: another worker that made it first may not have synced it yet.
    directory.mkdir(exist_ok=True)
    _sync_directory(directory.parent)


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def photo_store(settings: Settings) -> FilePhotoStore:
    """The store HJ1321_PHOTO_STORE names: empty for <data dir>/photos, or file:///absolute/path."""
    return _store(settings.photo_store, settings.data_dir)


@lru_cache  # asked on every batch: resolving the data directory is a system call or several
def _store(url: str, data_dir: Path) -> FilePhotoStore:
    if not url:
        return FilePhotoStore(data_dir.resolve() / "photos")
    parsed = urlparse(url)
    if parsed.scheme == "file" and parsed.path.startswith("/"):
        return FilePhotoStore(Path(parsed.path))
    raise ConfigurationError(f"HJ1321_PHOTO_STORE={url!r}: only file:///absolute/path is built in; an object "
                             "store is a PhotoStore class in service/photos/store.py")

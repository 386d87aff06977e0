"""Blob storage: screenshots now, session-replay chunks next.

Two backends behind one small, synchronous interface (async callers use a
thread): a folder on local disk, the zero-config default, and S3-compatible
object storage when ``SAYSO_STORAGE_URL=s3://bucket/prefix``.

S3 goes through boto3: AWS's own SDK, the most widely tested client against
S3-compatible stores (MinIO, Ceph, R2, B2, Garage, moto), with the standard
credential chain (``AWS_*`` variables, profiles, instance roles) for free. Its
calls block, which suits this interface; it is only imported when S3 is used.

Both backends share the guarantees callers rely on: a key can't escape the
storage root (keys are checked against a strict pattern), and a write is atomic
— a reader sees the whole object or nothing, never a partial file. Both list
what is under a prefix a page at a time, with each object's last write, so
the clean-up can find blobs no row points at (``store/orphans.py``).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sayso.settings import Settings

# Segments of letters, digits, '_', '-' and '.', never starting with a dot, so
# no "..", no hidden files, no absolute paths, no backslashes.
_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")
MAX_KEY_LENGTH = 512
CREATE_ATTEMPTS = 10  # a write racing deletes that empty its folder


class InvalidKey(ValueError):
    """A blob key that could address something outside the store."""


def check_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
        raise InvalidKey(key[:80])
    return key


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """One object found by ``BlobStore.listing``."""

    key: str
    modified: datetime  # its last write, UTC


class BlobStore(Protocol):
    def put(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        """Store ``data`` under ``key`` atomically, replacing what was there."""

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None if there is none."""

    def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""

    def listing(self, prefix: str) -> Iterator[StoredBlob]:
        """Every object under ``prefix/``, in no particular order, read a page
        at a time (memory stays flat however many there are). Objects written
        while it runs may or may not appear."""

    def delete_unfinished(self, older_than: datetime) -> int:
        """Delete writes that never finished (a process killed mid-write) last
        touched before ``older_than``; returns how many."""

    def describe(self) -> str:
        """Where the blobs live, for logs."""


class LocalBlobStore:
    """Files under a root folder. Writes go to a temporary file, fsync, rename.

    Deleting a folder's last file removes the folder too (and its parents,
    up to the root, while they are empty), so a deleted replay session leaves
    no empty folder behind; a write that loses that race makes the folder again.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):  # belt and braces: the pattern forbids it
            raise InvalidKey(key[:80])
        return path

    def put(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        path = self._path(key)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            with self._create(temporary) as out:
                if isinstance(data, bytes):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # make the rename itself durable
        finally:
            os.close(directory)

    @staticmethod
    def _create(temporary: Path) -> IO[bytes]:
        # A delete may remove the (empty) folder between mkdir and open, or
        # while mkdir checks it (FileExistsError): the folder is made again.
        for _ in range(CREATE_ATTEMPTS - 1):
            try:
                temporary.parent.mkdir(parents=True, exist_ok=True)
                return open(temporary, "xb")
            except (FileNotFoundError, FileExistsError):
                continue
        temporary.parent.mkdir(parents=True, exist_ok=True)
        return open(temporary, "xb")

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        folder = path.parent
        while folder != self.root:
            try:
                folder.rmdir()  # only if empty
            except OSError:  # not empty (or gone already): its parents aren't either
                return
            folder = folder.parent

    def listing(self, prefix: str) -> Iterator[StoredBlob]:
        return self._walk(self._path(prefix), prefix)

    def _walk(self, folder: Path, key_prefix: str) -> Iterator[StoredBlob]:
        # os.scandir streams a folder's entries, so a session folder with many
        # chunks is never read into memory at once; the depth is a few levels.
        try:
            entries = os.scandir(folder)
        except (FileNotFoundError, NotADirectoryError):  # none yet, or removed meanwhile
            return
        with entries:
            for entry in entries:
                if entry.name.startswith("."):  # a write in progress, not a blob
                    continue
                key = f"{key_prefix}/{entry.name}"
                try:
                    if entry.is_dir(follow_symlinks=False):
                        yield from self._walk(Path(entry.path), key)
                    elif entry.is_file(follow_symlinks=False) and _KEY.match(key):
                        modified = entry.stat(follow_symlinks=False).st_mtime
                        yield StoredBlob(key, datetime.fromtimestamp(modified, UTC))
                except FileNotFoundError:
                    continue

    def delete_unfinished(self, older_than: datetime) -> int:
        # A killed process leaves its ".<name>.<random>.tmp" behind; a write in
        # progress touches its file at least every few seconds.
        deleted = 0
        for folder, _, names in os.walk(self.root):
            for name in names:
                if not (name.startswith(".") and name.endswith(".tmp")):
                    continue
                path = Path(folder, name)
                try:
                    if datetime.fromtimestamp(path.stat().st_mtime, UTC) < older_than:
                        path.unlink()
                        deleted += 1
                except FileNotFoundError:  # finished or removed meanwhile
                    continue
        return deleted

    def describe(self) -> str:
        return str(self.root)


class S3BlobStore:
    """Objects in an S3-compatible bucket, under an optional key prefix."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        import boto3
        from botocore.config import Config

        bucket, _, prefix = settings.blob_location[len("s3://") :].partition("/")
        path_style = settings.s3_path_style
        if path_style is None:  # S3-compatible servers usually want path-style URLs
            path_style = bool(settings.s3_endpoint_url)
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region or None,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=settings.s3_secret_access_key or None,
            config=Config(
                s3={"addressing_style": "path" if path_style else "auto"},
                retries={"max_attempts": 3, "mode": "standard"},
                max_pool_connections=32,
            ),
        )
        return cls(bucket, prefix, client)

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        # A PUT is atomic in S3: the object appears whole or not at all.
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
        )

    def get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = response["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def listing(self, prefix: str) -> Iterator[StoredBlob]:
        start = len(self.prefix) + 1 if self.prefix else 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix) + "/"
        )
        for page in pages:  # up to 1,000 keys each
            for item in page.get("Contents", ()):
                key = item["Key"][start:]
                if _KEY.match(key):  # anything else isn't one of ours
                    yield StoredBlob(key, item["LastModified"].astimezone(UTC))

    def delete_unfinished(self, older_than: datetime) -> int:
        return 0  # an S3 PUT is atomic: an unfinished one leaves nothing

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def open_blob_store(settings: Settings) -> BlobStore:
    location = settings.blob_location
    if location.startswith("s3://"):
        return S3BlobStore.from_settings(settings)
    return LocalBlobStore(Path(location))

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
— a reader sees the whole object or nothing, never a partial file.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sayso.settings import Settings

# Segments of letters, digits, '_', '-' and '.', never starting with a dot, so
# no "..", no hidden files, no absolute paths, no backslashes.
_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")
MAX_KEY_LENGTH = 512


class InvalidKey(ValueError):
    """A blob key that could address something outside the store."""


def check_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
        raise InvalidKey(key[:80])
    return key


class BlobStore(Protocol):
    def put(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        """Store ``data`` under ``key`` atomically, replacing what was there."""

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None if there is none."""

    def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""

    def describe(self) -> str:
        """Where the blobs live, for logs."""


class LocalBlobStore:
    """Files under a root folder. Writes go to a temporary file, fsync, rename."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):  # belt and braces: the pattern forbids it
            raise InvalidKey(key[:80])
        return path

    def put(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            with open(temporary, "wb") as out:
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

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

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

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def open_blob_store(settings: Settings) -> BlobStore:
    location = settings.blob_location
    if location.startswith("s3://"):
        return S3BlobStore.from_settings(settings)
    return LocalBlobStore(Path(location))

"""The blob store, on local disk and on a real S3-compatible server (moto)."""

from __future__ import annotations

import io
import os
import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sayso.settings import Settings, SettingsError
from sayso.store.blobs import BlobStore, InvalidKey, LocalBlobStore, check_key, open_blob_store
from tests.support.s3 import s3_overrides


@pytest.fixture(params=["disk", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path, s3_endpoint: str) -> BlobStore:
    if request.param == "disk":
        return open_blob_store(Settings(data_dir=tmp_path))
    return open_blob_store(
        Settings(data_dir=tmp_path, **s3_overrides(s3_endpoint, secrets.token_hex(4)))
    )  # type: ignore[arg-type]


def test_what_is_put_can_be_got_and_deleted(blobs: BlobStore) -> None:
    blobs.put("screenshots/client_a/x.png", b"\x89PNG data", "image/png")
    assert blobs.get("screenshots/client_a/x.png") == b"\x89PNG data"
    blobs.delete("screenshots/client_a/x.png")
    assert blobs.get("screenshots/client_a/x.png") is None
    blobs.delete("screenshots/client_a/x.png")  # deleting again is fine


def test_a_file_object_can_be_stored_and_a_put_replaces(blobs: BlobStore) -> None:
    blobs.put("k/v", io.BytesIO(b"first"), "application/octet-stream")
    blobs.put("k/v", b"second", "application/octet-stream")
    assert blobs.get("k/v") == b"second"


def test_a_missing_object_is_none(blobs: BlobStore) -> None:
    assert blobs.get("nothing/here") is None


@pytest.mark.parametrize(
    "key",
    [
        "../escape",
        "a/../../b",
        "/etc/passwd",
        ".hidden",
        "a/.hidden",
        "a\\\\b",
        "a//b",
        "",
        "a/",
        "x" * 600,
    ],
)
def test_keys_that_could_escape_the_store_are_refused(blobs: BlobStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        blobs.put(key, b"x", "text/plain")
    with pytest.raises(InvalidKey):
        check_key(key)


def test_two_s3_prefixes_do_not_see_each_other(tmp_path: Path, s3_endpoint: str) -> None:
    one = open_blob_store(Settings(data_dir=tmp_path, **s3_overrides(s3_endpoint, "one")))  # type: ignore[arg-type]
    two = open_blob_store(Settings(data_dir=tmp_path, **s3_overrides(s3_endpoint, "two")))  # type: ignore[arg-type]
    one.put("same/key", b"1", "text/plain")
    assert two.get("same/key") is None


def test_local_writes_leave_no_temporary_files_and_stay_inside_the_root(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    for i in range(5):
        store.put(f"a/b/{i}.bin", bytes(1000), "application/octet-stream")
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert files == [Path(f"blobs/a/b/{i}.bin") for i in range(5)]


def test_a_reader_never_sees_a_half_written_local_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    old, new = b"o" * 3_000_000, b"n" * 3_000_000
    store.put("big", old, "application/octet-stream")
    seen: list[bytes | None] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(store.get("big"))

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(10):
        store.put("big", new, "application/octet-stream")
        store.put("big", old, "application/octet-stream")
    done.set()
    reader.join()
    assert seen
    assert all(value in (old, new) for value in seen)


def test_the_default_store_is_a_folder_in_the_data_dir(tmp_path: Path) -> None:
    store = open_blob_store(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalBlobStore)
    assert store.root == (tmp_path / "blobs").resolve()


def test_a_bucketless_s3_url_is_refused() -> None:
    with pytest.raises(SettingsError, match="bucket"):
        Settings(storage_url="s3://")


def test_listing_finds_every_key_under_a_prefix_with_when_it_was_written(blobs: BlobStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)  # S3 keeps whole seconds
    for key in ("replays/a/1", "replays/a/b/2", "replaysX/3", "screenshots/a/4.png"):
        blobs.put(key, b"x", "application/octet-stream")
    after = datetime.now(UTC) + timedelta(seconds=2)

    listed = {blob.key: blob.modified for blob in blobs.listing("replays")}

    assert set(listed) == {"replays/a/1", "replays/a/b/2"}
    assert all(before <= modified <= after for modified in listed.values()), listed
    assert [blob.key for blob in blobs.listing("screenshots/a")] == ["screenshots/a/4.png"]
    assert list(blobs.listing("nothing")) == []


def test_local_listing_skips_writes_in_progress(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("f/done", b"x", "application/octet-stream")
    (tmp_path / "f" / ".half.0123.tmp").write_bytes(b"partial")

    assert [blob.key for blob in store.listing("f")] == ["f/done"]


def test_deleting_a_folders_last_blob_removes_its_empty_folders(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.put("replays/client/one/0", b"x", "application/gzip")
    store.put("replays/client/one/1", b"x", "application/gzip")
    store.put("replays/client/two/0", b"x", "application/gzip")

    store.delete("replays/client/one/0")
    assert (tmp_path / "blobs/replays/client/one").is_dir()
    store.delete("replays/client/one/1")
    assert not (tmp_path / "blobs/replays/client/one").exists()
    assert (tmp_path / "blobs/replays/client/two").is_dir()
    store.delete("replays/client/two/0")
    assert not (tmp_path / "blobs/replays").exists()
    assert (tmp_path / "blobs").is_dir(), "the root itself stays"


def test_writes_racing_the_removal_of_their_empty_folder_still_succeed(tmp_path: Path) -> None:
    # One writer keeps emptying the folder (so delete removes it) while the
    # other writes into it: a write must make the folder again, never fail.
    store = LocalBlobStore(tmp_path)
    failures: list[BaseException] = []
    done = threading.Event()

    def churn() -> None:
        while not done.is_set():
            try:
                store.put("f/x/churn", b"x", "application/octet-stream")
            except OSError as exc:
                failures.append(exc)
            store.delete("f/x/churn")

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        for i in range(500):
            try:
                store.put(f"f/x/{i}", b"y", "application/octet-stream")
            except OSError as exc:
                failures.append(exc)
            store.delete(f"f/x/{i}")
    finally:
        done.set()
        churner.join()
    assert failures == []


def test_writes_a_killed_process_left_unfinished_are_deleted_once_old(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("replays/c/s/0-aa", b"kept", "application/octet-stream")
    folder = tmp_path / "replays" / "c" / "s"
    stale, fresh = folder / ".1-bb.0123456789abcdef.tmp", folder / ".2-cc.fedcba9876543210.tmp"
    stale.write_bytes(b"half a chunk")
    fresh.write_bytes(b"still being written")
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    os.utime(stale, (an_hour_ago, an_hour_ago))

    deleted = store.delete_unfinished(datetime.now(UTC) - timedelta(minutes=30))

    assert deleted == 1
    assert not stale.exists()
    assert fresh.exists()
    assert store.get("replays/c/s/0-aa") == b"kept"

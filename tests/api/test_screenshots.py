"""Screenshots over real HTTP: upload, serve, reference from feedback, clean up.

Every test runs on four stacks: SQLite and PostgreSQL, each with blobs on local
disk and in S3 (moto's server on a loopback port).
"""

from __future__ import annotations

import io
import re
import secrets
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from sayso.store.blobs import open_blob_store
from sayso.store.clients import update_client
from sayso.store.schema import feedback, screenshots
from sayso.store.screenshots import delete_unattached
from tests.support.images import image_bytes, png_bytes, png_chunk, png_declaring
from tests.support.stack import Stack


def stored_image(stack: Stack, shot: dict[str, Any]) -> tuple[bytes, Image.Image]:
    data = stack.fetch(shot).content
    return data, Image.open(io.BytesIO(data))


# --- uploading ------------------------------------------------------------------


def test_an_uploaded_png_comes_back_as_the_reference_screenshot_object(stack: Stack) -> None:
    client_id = stack.client()
    response = stack.upload(client_id, png_bytes(640, 400))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    shot = body["screenshot"]
    assert re.fullmatch(rf"{client_id}/[a-z2-7]{{32}}\.png", shot["fileName"])
    assert shot["url"] == f"{stack.settings.public_url}/api/screenshots/{shot['fileName']}"
    assert shot["mimeType"] == "image/png"
    assert (shot["width"], shot["height"]) == (640, 400)
    served = stack.fetch(shot)
    assert shot["fileSize"] == len(served.content)


def test_the_stored_image_is_served_with_strict_cacheable_headers(stack: Stack) -> None:
    shot = stack.uploaded(stack.client())
    response = stack.fetch(shot)

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "immutable" in response.headers["cache-control"]
    assert Image.open(io.BytesIO(response.content)).size == (64, 40)
    again = stack.http.get(response.url.path, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert stack.http.head(response.url.path).status_code == 200


@pytest.mark.parametrize(
    ("fmt", "mime", "extension"),
    [("JPEG", "image/jpeg", "jpg"), ("WEBP", "image/webp", "webp"), ("GIF", "image/png", "png")],
)
def test_jpeg_webp_and_gif_are_accepted(stack: Stack, fmt: str, mime: str, extension: str) -> None:
    shot = stack.uploaded(stack.client(), image_bytes(fmt))
    assert shot["mimeType"] == mime
    assert shot["fileName"].endswith("." + extension)
    assert stack.fetch(shot).headers["content-type"] == mime


def test_the_format_is_decided_by_decoding_not_by_name_or_declared_type(stack: Stack) -> None:
    response = stack.upload(
        stack.client(), image_bytes("JPEG"), filename="photo.gif", content_type="text/html"
    )
    assert response.status_code == 200
    assert response.json()["screenshot"]["mimeType"] == "image/jpeg"


def test_the_clients_file_name_never_reaches_a_path(stack: Stack) -> None:
    shot = stack.uploaded(stack.client())
    response = stack.upload(stack.client(), png_bytes(), filename="../../../etc/evil.php")
    assert response.status_code == 200
    assert "evil" not in response.json()["screenshot"]["fileName"]
    assert ".." not in shot["fileName"]


# --- refusing -------------------------------------------------------------------


def test_a_missing_file_is_refused(stack: Stack) -> None:
    response = stack.upload(stack.client(), None)
    assert response.status_code == 400
    assert response.json() == {"error": "Screenshot file is required"}
    not_multipart = stack.http.post("/api/screenshots", json={"clientId": "x"})
    assert not_multipart.json() == {"error": "Screenshot file is required"}


def test_a_missing_client_id_is_refused(stack: Stack) -> None:
    response = stack.upload(None, png_bytes())
    assert response.status_code == 400
    assert response.json() == {"error": "Client ID is required"}


@pytest.mark.parametrize("client_id", ["client_nobodyhasthisid000000", "client_\x00nul", "c" * 500])
def test_an_unknown_or_impossible_client_is_a_404(stack: Stack, client_id: str) -> None:
    response = stack.upload(client_id, png_bytes())
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == "*"


def test_the_allowlist_applies_to_uploads(stack: Stack) -> None:
    client_id = stack.client("https://good.example")
    refused = stack.upload(client_id, png_bytes(), headers={"Origin": "https://evil.example"})
    accepted = stack.upload(client_id, png_bytes(), headers={"Origin": "https://good.example"})
    assert refused.status_code == 403
    assert refused.json() == {"error": "Domain not allowed"}
    assert accepted.status_code == 200


HOSTILE = {
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>1</script></svg>',
    "html": b"<!doctype html><html><body><script>alert(1)</script></body></html>",
    "php": b"<?php system($_GET['c']); ?>",
    "png-signature-then-garbage": b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(2000),
    "truncated-png": png_bytes(200, 200, noise=True)[:3000],
    "pdf": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
    "empty-jpeg-marker": b"\xff\xd8\xff\xe0" + b"\x00" * 100,
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_files_that_are_not_images_are_refused(stack: Stack, name: str) -> None:
    response = stack.upload(stack.client(), HOSTILE[name], content_type="image/png")
    assert response.status_code == 400
    assert response.json() == {"error": "File must be an image"}


def test_a_decompression_bomb_is_refused_from_its_header(stack: Stack) -> None:
    bomb = png_declaring(30_000, 30_000)
    assert len(bomb) < 5_000
    response = stack.upload(stack.client(), bomb)
    assert response.status_code == 400
    assert "too large" in response.json()["error"].lower() or "pixels" in response.json()["error"]


def test_a_declared_oversized_upload_is_refused_before_it_is_read(stack: Stack) -> None:
    with socket.create_connection(("127.0.0.1", stack.server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/screenshots HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=xyz\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 413")
    assert b'"error"' in received


def test_a_file_over_10_mb_is_refused_while_streaming(stack: Stack) -> None:
    client_id = stack.client()
    boundary = "sayso-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="clientId"\r\n\r\n{client_id}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="screenshot"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", stack.server.port), timeout=30) as sock:
        # Chunked, so there is no Content-Length to refuse up front: the server
        # has to count. Send just past 10 MB, then wait for the verdict.
        sock.sendall(
            b"POST /api/screenshots HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            + f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode()
        )
        sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        block = b"\x00" * (1024 * 1024)
        for _ in range(10):
            sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
        sock.sendall(b"%x\r\n%s\r\n" % (4096, block[:4096]))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 413"), received[:200]


def test_a_malformed_multipart_body_is_a_400(stack: Stack) -> None:
    response = stack.http.post(
        "/api/screenshots",
        content=b"--b\r\nContent-Disposition: form-data; name=\r\n\r\nx\r\n--b",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 400
    assert response.json()["error"]


# --- what is stored ---------------------------------------------------------------


def jpeg_with_exif(width: int, height: int, orientation: int) -> bytes:
    image = Image.new("RGB", (width, height), (250, 250, 250))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "SpyCam Inc."  # Make
    exif[0x0110] = "Model X-42"  # Model
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_exif_is_stripped_after_its_orientation_is_applied(stack: Stack) -> None:
    original = jpeg_with_exif(80, 20, orientation=6)  # "rotate 90° clockwise to display"
    assert b"SpyCam" in original

    shot = stack.uploaded(stack.client(), original)
    data, image = stored_image(stack, shot)

    assert (shot["width"], shot["height"]) == (20, 80)
    assert image.size == (20, 80)
    assert len(image.getexif()) == 0
    assert b"SpyCam" not in data
    assert b"Exif" not in data


def test_a_polyglot_loses_its_payload_when_re_encoded(stack: Stack) -> None:
    payload = b"<?php system($_GET['c']); ?><script>alert(document.cookie)</script>"
    png = png_bytes()
    with_text_chunk = png[:33] + png_chunk(b"tEXt", b"Comment\x00" + payload) + png[33:]
    for upload in (png + payload, with_text_chunk):
        shot = stack.uploaded(stack.client(), upload)
        data, _ = stored_image(stack, shot)
        assert payload not in data
        assert b"<script>" not in data


# --- serving --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "client_x/../../etc/passwd",
        "..%2F..%2Fsayso.db",
        "client_abc/" + "a" * 32 + ".svg",
        "client_abc/" + "A" * 32 + ".png",
        "client_abc/" + "a" * 32 + ".png",  # well formed, but never uploaded
        "",
    ],
)
def test_anything_but_a_stored_screenshot_is_a_404(stack: Stack, path: str) -> None:
    response = stack.http.get("/api/screenshots/" + path)
    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


def test_a_private_clients_screenshot_stops_being_public_once_submitted(stack: Stack) -> None:
    client_id = stack.client()
    update_client(stack.engine, client_id, screenshots_private=True)
    shot = stack.uploaded(client_id)

    preview = stack.fetch(shot)
    assert preview.status_code == 200  # the widget's preview right after upload
    assert preview.headers["cache-control"] == "no-store"

    submitted = stack.http.post(
        "/api/feedback", json={"clientId": client_id, "rating": 2, "screenshots": [shot]}
    )
    assert submitted.status_code == 200
    assert stack.fetch(shot).status_code == 404


# --- referencing from feedback ------------------------------------------------------


def stored_feedback(stack: Stack, feedback_id: str) -> dict[str, Any]:
    with stack.engine.connect() as conn:
        row = conn.execute(select(feedback).where(feedback.c.id == feedback_id)).mappings().one()
    return dict(row)


def test_feedback_stores_the_servers_record_not_the_numbers_it_was_sent(stack: Stack) -> None:
    client_id = stack.client()
    shot = stack.uploaded(client_id)
    forged = shot | {
        "fileSize": 1,
        "width": 99999,
        "url": "javascript:alert(1)",
        "mimeType": "text/html",
    }

    response = stack.http.post(
        "/api/feedback", json={"clientId": client_id, "rating": 3, "screenshots": [forged]}
    )

    assert response.status_code == 200, response.text
    assert stored_feedback(stack, response.json()["feedbackId"])["screenshots"] == [shot]


@pytest.mark.parametrize("case", ["other-client", "never-uploaded", "listed-twice"])
def test_feedback_may_only_reference_this_clients_own_uploads(stack: Stack, case: str) -> None:
    client_id = stack.client()
    mine = stack.uploaded(client_id)
    if case == "other-client":
        shots = [stack.uploaded(stack.client())]
    elif case == "never-uploaded":
        shots = [mine | {"fileName": f"{client_id}/{'b' * 32}.png"}]
    else:
        shots = [mine, mine]

    response = stack.http.post(
        "/api/feedback", json={"clientId": client_id, "rating": 3, "screenshots": shots}
    )

    assert response.status_code == 400
    assert list(response.json()["issues"]) == ["screenshots"]


def test_ten_screenshots_are_the_most_one_feedback_can_carry(stack: Stack) -> None:
    client_id = stack.client()
    shots = [stack.uploaded(client_id) for _ in range(11)]
    ten = stack.http.post(
        "/api/feedback", json={"clientId": client_id, "rating": 3, "screenshots": shots[:10]}
    )
    eleven = stack.http.post(
        "/api/feedback", json={"clientId": client_id, "rating": 3, "screenshots": shots}
    )
    assert ten.status_code == 200
    assert eleven.status_code == 400


# --- cleaning up --------------------------------------------------------------------


def test_cleanup_deletes_only_old_unreferenced_uploads(stack: Stack) -> None:
    client_id = stack.client()
    kept = stack.uploaded(client_id)
    orphan = stack.uploaded(client_id)
    stack.http.post(
        "/api/feedback", json={"clientId": client_id, "rating": 4, "screenshots": [kept]}
    )
    blobs = open_blob_store(stack.settings)

    # A day has not passed yet: nothing of this client's goes.
    delete_unattached(stack.engine, blobs, now=datetime.now(UTC) + timedelta(hours=23))
    assert stack.fetch(orphan).status_code == 200

    delete_unattached(stack.engine, blobs, now=datetime.now(UTC) + timedelta(hours=25))

    assert stack.fetch(orphan).status_code == 404
    assert stack.fetch(kept).status_code == 200
    with stack.engine.connect() as conn:
        names = set(conn.execute(select(screenshots.c.file_name)).scalars())
    assert kept["fileName"] in names
    assert orphan["fileName"] not in names
    assert blobs.get(f"screenshots/{orphan['fileName']}") is None
    assert blobs.get(f"screenshots/{kept['fileName']}") is not None

"""Image files for upload tests, made on the fly (nothing binary is committed)."""

from __future__ import annotations

import io
import os

from PIL import Image


def png_bytes(
    width: int = 64, height: int = 40, *, noise: bool = False, mode: str = "RGB"
) -> bytes:
    """A PNG; with ``noise`` its pixels are random, so it barely compresses."""
    if noise:
        channels = len(mode)
        image = Image.frombytes(mode, (width, height), os.urandom(width * height * channels))
    else:
        image = Image.new(mode, (width, height), (200, 80, 40)[: len(mode)])
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def image_bytes(fmt: str, width: int = 48, height: int = 32, **save: object) -> bytes:
    image = Image.new("RGB", (width, height), (10, 120, 200))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()

"""Turning an untrusted upload into a clean image, or refusing it.

The format is decided by decoding, never by the declared type or file name:
Pillow is only allowed to try PNG, JPEG, WebP and GIF decoders, so SVG, HTML,
PDF and friends never reach a parser. Everything that can be known from the
header is checked *before* any pixel is decoded (``read_header``): the sides,
the pixel count (a 4 KB PNG can declare 30000x30000) and the pixels per byte
of file (a 170 KB PNG can declare 40 megapixels of one colour). Then the whole
image is decoded — truncated or corrupt data fails here — the EXIF orientation
is applied, and the pixels are re-encoded from scratch with none of the
source's metadata. What is stored therefore carries no EXIF (GPS, camera), no
XMP, no comments or text chunks, no ICC profile, and nothing appended after the
image data (polyglots lose their payload).

After a large decode the freed memory is handed back to the system: glibc keeps
the big blocks Pillow frees in its per-thread arenas, which left a process at
several hundred MB after a few large uploads.
"""

from __future__ import annotations

import ctypes
import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageOps

# A full-page screenshot of a long page at 2x is ~2,900 x 12,000; allow well
# beyond that, but nothing that decodes to more than ~160 MB of RGBA.
MAX_PIXELS = 40_000_000
MAX_SIDE = 20_000
# Pixels per byte of file. Real captures with content measured at most 75
# (a text page as lossless WebP; PNG and JPEG 10-20), but blank and nearly
# blank ones reach hundreds to thousands (a blank 4K capture: 282 as PNG,
# 21,000 as lossless WebP) — as high as a bomb of one colour. So images up to a
# 5K screen's pixels pass whatever their size, and every pixel beyond must be
# paid for in bytes: a 40-megapixel image needs at least 240 KB of file.
FREE_PIXELS = 16_000_000
MAX_PIXELS_PER_BYTE = 100
# Below this, what a decode frees is small enough to leave to malloc.
TRIM_FROM_PIXELS = 1_000_000

# Pillow's own guard raises above twice this; ours (above) is stricter and
# earlier, so silence its warning band.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.simplefilter("ignore", Image.DecompressionBombWarning)

_ACCEPTED = ("PNG", "JPEG", "WEBP", "GIF")
# The only entry of a decoded image's ``info`` the encoders may see: a GIF's
# or palette PNG's transparent colour is part of the picture, not metadata.
_KEPT_INFO = ("transparency",)


class NotAnImage(ValueError):
    """The upload is not an acceptable image; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Header:
    """What an image declares about itself, read without decoding a pixel."""

    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True, slots=True)
class CleanImage:
    data: bytes
    mime_type: str
    extension: str
    width: int
    height: int


def allowed_pixels(file_size: int) -> int:
    """The most pixels a file of ``file_size`` bytes may declare."""
    return min(MAX_PIXELS, FREE_PIXELS + MAX_PIXELS_PER_BYTE * file_size)


def _check(image: Image.Image, file_size: int) -> Header:
    width, height = image.size
    if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE:
        raise NotAnImage(f"Image dimensions must be 1 to {MAX_SIDE:,} pixels per side")
    if width * height > MAX_PIXELS:
        raise NotAnImage(f"Image is too large (max {MAX_PIXELS // 1_000_000} megapixels)")
    if width * height > allowed_pixels(file_size):
        raise NotAnImage(
            "Image has too many pixels for its file size (up to "
            f"{FREE_PIXELS // 1_000_000} megapixels, then at most {MAX_PIXELS_PER_BYTE} "
            "pixels per byte)"
        )
    return Header(image.format or "", width, height)


def _size(source: IO[bytes]) -> int:
    size = source.seek(0, os.SEEK_END)
    source.seek(0)
    return size


def _opened(source: IO[bytes]) -> Image.Image:
    try:
        return Image.open(source, formats=_ACCEPTED)
    except Image.DecompressionBombError:
        # Pillow's own guard, for headers far beyond ours: same answer.
        raise NotAnImage(f"Image is too large (max {MAX_PIXELS // 1_000_000} megapixels)") from None
    except Exception as exc:
        raise NotAnImage("File must be an image") from exc


def read_header(source: IO[bytes]) -> Header:
    """Check what ``source`` declares (sides, pixels, pixels per byte); raise ``NotAnImage``.

    Only the header is parsed; ``source`` is rewound for ``clean_image``.
    """
    size = _size(source)
    try:
        with _opened(source) as image:
            return _check(image, size)
    finally:
        source.seek(0)


def _encode(image: Image.Image, source_format: str) -> CleanImage:
    # Encoders copy some metadata from ``info`` unless told otherwise (Pillow
    # writes a JPEG's comment and a PNG's ICC profile back out): drop it all.
    image.info = {key: image.info[key] for key in _KEPT_INFO if key in image.info}
    out = io.BytesIO()
    if source_format == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=90, optimize=False)
        mime, extension = "image/jpeg", "jpg"
    elif source_format == "WEBP":
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA")
        image.save(out, "WEBP", quality=90, method=4)
        mime, extension = "image/webp", "webp"
    else:  # PNG, and the first frame of a GIF, become PNG
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            image = image.convert("RGBA")
        image.save(out, "PNG", compress_level=6)
        mime, extension = "image/png", "png"
    return CleanImage(out.getvalue(), mime, extension, image.width, image.height)


def _decode(source: IO[bytes]) -> tuple[Header, CleanImage]:
    size = _size(source)
    with _opened(source) as image:
        header = _check(image, size)
        try:
            image.load()
            # In place: a transposed copy would double the memory of every image.
            ImageOps.exif_transpose(image, in_place=True)
            return header, _encode(image, header.format)
        except Exception as exc:
            # Truncation and corruption surface as OSError, ValueError,
            # SyntaxError, EOFError … and, on hostile files, as whatever a
            # decoder trips over. All of them mean the same thing here.
            raise NotAnImage("File must be an image") from exc


def clean_image(source: IO[bytes]) -> CleanImage:
    """Decode ``source`` and return it re-encoded without metadata; raise ``NotAnImage``.

    Makes ``read_header``'s checks again (they are cheap) so no caller can skip them.
    """
    header, clean = _decode(source)
    if header.pixels >= TRIM_FROM_PIXELS:
        release_free_memory()
    return clean


def _malloc_trim() -> Callable[[], object]:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError):
        return lambda: None  # not glibc (musl, macOS): their allocators differ
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


# Hands free pages in every malloc arena back to the system (glibc), in the
# calling thread and without the GIL: ~4 ms after a typical screenshot.
# Pillow itself caches no blocks (``Image.core.get_blocks_max()`` is 0).
release_free_memory = _malloc_trim()

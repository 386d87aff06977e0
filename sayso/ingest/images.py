"""Turning an untrusted upload into a clean image, or refusing it.

The format is decided by decoding, never by the declared type or file name:
Pillow is only allowed to try PNG, JPEG, WebP and GIF decoders, so SVG, HTML,
PDF and friends never reach a parser. The pixel count is checked from the
header *before* any pixel is decoded (a 4 KB PNG can declare 30000x30000),
then the whole image is decoded — truncated or corrupt data fails here — the
EXIF orientation is applied, and the pixels are re-encoded from scratch. What
is stored therefore carries no EXIF (GPS, camera), no comments, no ICC or XMP
chunks, and nothing appended after the image data (polyglots lose their
payload).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageOps

# A full-page screenshot of a long page at 2x is ~2,900 x 12,000; allow well
# beyond that, but nothing that decodes to more than ~160 MB of RGBA.
MAX_PIXELS = 40_000_000
MAX_SIDE = 20_000

# Pillow's own guard raises above twice this; ours (above) is stricter and
# earlier, so silence its warning band.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.simplefilter("ignore", Image.DecompressionBombWarning)

_ACCEPTED = ("PNG", "JPEG", "WEBP", "GIF")


class NotAnImage(ValueError):
    """The upload is not an acceptable image; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class CleanImage:
    data: bytes
    mime_type: str
    extension: str
    width: int
    height: int


def _encode(image: Image.Image, source_format: str) -> CleanImage:
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


def clean_image(source: IO[bytes]) -> CleanImage:
    """Decode ``source`` and return it re-encoded without metadata; raise ``NotAnImage``."""
    try:
        with Image.open(source, formats=_ACCEPTED) as image:
            width, height = image.size
            if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE:
                raise NotAnImage(f"Image dimensions must be 1 to {MAX_SIDE:,} pixels per side")
            if width * height > MAX_PIXELS:
                raise NotAnImage(f"Image is too large (max {MAX_PIXELS // 1_000_000} megapixels)")
            source_format = image.format or ""
            image.load()
            upright = ImageOps.exif_transpose(image)
            return _encode(upright, source_format)
    except NotAnImage:
        raise
    except Image.DecompressionBombError:
        # Pillow's own guard, for headers far beyond ours: same answer.
        raise NotAnImage(f"Image is too large (max {MAX_PIXELS // 1_000_000} megapixels)") from None
    except Exception as exc:
        # Unknown formats, truncation and corruption surface as OSError,
        # ValueError, SyntaxError, EOFError … and, on hostile files, as whatever
        # a decoder trips over. All of them mean the same thing here.
        raise NotAnImage("File must be an image") from exc

"""Image files for upload tests, made on the fly (nothing binary is committed)."""

from __future__ import annotations

import functools
import io
import os
import struct
import zlib

from PIL import Image, ImageCms, PngImagePlugin


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


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (its data can't fill them)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
        + png_chunk(b"IEND", b"")
    )


@functools.cache
def solid_rgba_png(side: int = 6300) -> bytes:
    """The hostile probe's image: one colour, ``side`` x ``side`` RGBA (~170 KB at 6300)."""
    return png_bytes(side, side, mode="RGBA")


def page_capture(fmt: str, width: int, height: int, *, lines: int = 6, **save: object) -> bytes:
    """A screenshot of a mostly blank page: white, a dark header bar and ``lines``
    lines of "text" (random grey strips), as a browser or capture tool saves it."""
    page = Image.new("RGB", (width, height), (255, 255, 255))
    page.paste((34, 51, 68), (0, 0, width, min(height, 96)))
    for line in range(lines):
        top = 160 + line * 56
        if top + 28 > height:
            break
        strip = Image.frombytes("L", (width // 2, 28), os.urandom(width // 2 * 28))
        page.paste(strip.point(lambda v: 255 if v > 100 else 60).convert("RGB"), (64, top))
    out = io.BytesIO()
    page.save(out, fmt, **save)
    return out.getvalue()


# What the metadata-laden images below carry; none of it may reach storage.
CAMERA_MAKE = "SpyCam Inc."
CAMERA_MODEL = "Model X-42"
GPS_DATUM = "GPSSecretDatum"
XMP_SECRET = "XmpSecretPlace"
TEXT_SECRETS = {"Comment": "TextSecretNote", "Author": "ItxtSecretName", "Software": "ZtxtSecret"}
COMMENT_SECRET = "CommentSecret"
PLANTED = (CAMERA_MAKE, CAMERA_MODEL, GPS_DATUM, XMP_SECRET, COMMENT_SECRET, *TEXT_SECRETS.values())

XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    f'exif:GPSLatitude="52,31.2N" exif:GPSLongitude="13,24.6E" exif:Location="{XMP_SECRET}"/>'
    "</rdf:RDF></x:xmpmeta>"
).encode()


def camera_exif() -> bytes:
    """EXIF naming a camera and where the picture was taken."""
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE  # Make
    exif[0x0110] = CAMERA_MODEL  # Model
    exif[0x8825] = {  # GPS IFD: 52°31'12"N 13°24'36"E, and a datum to search for
        1: "N",
        2: (52.0, 31.0, 12.0),
        3: "E",
        4: (13.0, 24.0, 36.0),
        0x12: GPS_DATUM,
    }
    return exif.tobytes()


def with_metadata(fmt: str) -> bytes:
    """A small image in ``fmt`` carrying every kind of metadata the format can hold:
    JPEG EXIF, XMP, a comment and an ICC profile; PNG an ``eXIf`` chunk, text
    chunks (tEXt, iTXt, zTXt) and an ICC profile; WebP EXIF, XMP and an ICC
    profile; GIF a comment."""
    image = Image.new("RGB", (48, 32), (10, 120, 200))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(
            out, "JPEG", exif=camera_exif(), xmp=XMP, comment=COMMENT_SECRET, icc_profile=icc
        )
    elif fmt == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Comment", TEXT_SECRETS["Comment"])
        text.add_itxt("Author", TEXT_SECRETS["Author"])
        text.add_text("Software", TEXT_SECRETS["Software"], zip=True)
        image.save(out, "PNG", exif=camera_exif(), pnginfo=text, icc_profile=icc)
    elif fmt == "WEBP":
        image.save(out, "WEBP", exif=camera_exif(), xmp=XMP, icc_profile=icc)
    elif fmt == "GIF":
        image.save(out, "GIF", comment=COMMENT_SECRET)  # Pillow writes no XMP to GIF
    else:
        raise ValueError(fmt)
    return out.getvalue()

"""Reading a ``multipart/form-data`` upload as it streams in, with hard limits.

The body is parsed chunk by chunk (python-multipart); the one file part we want
goes into a temporary file that stays in memory only up to 512 KB and spills to
disk beyond, so sixteen parallel 10 MB uploads cost a few MB of RAM, not
160 MB. Every limit is enforced while reading: the whole body, the file, the
text fields and the number of parts.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import IO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from sayso.ingest.http import HTTPError, Request, too_large

SPOOL_BYTES = 512 * 1024
MAX_TEXT_FIELD_BYTES = 1_024
MAX_PARTS = 16


@dataclass
class UploadForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: IO[bytes] | None = None  # the wanted file part, rewound; None if absent
    file_size: int = 0

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class _Collector:
    """python-multipart callbacks that route each part's bytes where they belong."""

    def __init__(self, form: UploadForm, file_field: str, max_file_bytes: int) -> None:
        self.form = form
        self.file_field = file_field
        self.max_file_bytes = max_file_bytes
        self.parts = 0
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._target: str | None = None  # "file", a text field's name, or None (skip)
        self._text = bytearray()

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise HTTPError(400, f"Too many form fields (max {MAX_PARTS})")
        self._headers = {}
        self._target = None
        self._text = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        is_file = b"filename" in options
        if is_file and name == self.file_field and self.form.file is None:
            self.form.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
            self._target = "file"
        elif not is_file and name:
            self._target = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._target == "file":
            assert self.form.file is not None
            self.form.file_size += end - start
            if self.form.file_size > self.max_file_bytes:
                raise too_large(self.max_file_bytes)
            self.form.file.write(data[start:end])
        elif self._target is not None:
            self._text += data[start:end]
            if len(self._text) > MAX_TEXT_FIELD_BYTES:
                raise HTTPError(400, f"Form field {self._target!r} is too long")

    def on_part_end(self) -> None:
        if self._target not in (None, "file"):
            try:
                self.form.fields[self._target] = self._text.decode("utf-8")
            except UnicodeDecodeError:
                raise HTTPError(400, "Form fields must be UTF-8 text") from None


async def read_upload_form(
    request: Request, *, file_field: str, max_file_bytes: int, max_body_bytes: int
) -> UploadForm:
    """Parse the request's multipart body; the caller must ``close()`` the result.

    A request that is not multipart yields an empty form (the caller reports
    what is missing); a malformed one is a 400; one over a limit a 413.
    """
    form = UploadForm()
    content_type, options = parse_options_header(request.header(b"content-type"))
    boundary = options.get(b"boundary", b"")
    if content_type != b"multipart/form-data" or not 1 <= len(boundary) <= 200:
        return form

    collector = _Collector(form, file_field, max_file_bytes)
    callbacks = {
        name: getattr(collector, name)
        for name in dir(collector)
        if name.startswith("on_") and callable(getattr(collector, name))
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in request.stream(max_body_bytes):
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError:
        form.close()
        raise HTTPError(400, "Malformed multipart/form-data body") from None
    except BaseException:
        form.close()
        raise
    if form.file is not None:
        form.file.seek(0)
    return form

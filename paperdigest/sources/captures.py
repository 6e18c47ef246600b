"""Inputs as raw bytes (files, folders, globs) and their parsing: no store involved, so the
``rank`` command can use it without loading the database layer."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from paperdigest import files
from paperdigest.errors import InputError
from paperdigest.models import Listing


@dataclass
class Capture:
    """The raw bytes of one input, or why there are none."""

    source: str  # what the report names: the file path or the source's name/URL
    captured: datetime
    data: bytes | None = None
    content_type: str | None = None
    format: str = "auto"
    error: str | None = None
    not_modified: bool = False
    validators: tuple[str | None, str | None] | None = None  # (etag, last_modified) to save after ingest
    state_key: str | None = None  # the source_state row to update



def read_path_captures(specs: Iterable[str | os.PathLike[str]], *, max_bytes: int, now: datetime,
                       fmt: str = "auto") -> list[Capture]:
    """Expand paths, folders and globs into captures; a missing or unreadable one is a failed capture.

    A file's capture time is its modification time (never later than ``now``): a saved page's
    year-less date ("Mar 11") then gets the year it was saved in, not the year it is ingested in.
    """
    caps: list[Capture] = []
    for spec in specs:
        try:
            paths = files.expand_inputs(spec)
        except InputError as e:
            caps.append(Capture(source=os.fspath(spec), captured=now, error=str(e)))
            continue
        for path in paths:
            try:
                data = files.read_input(path, max_bytes)
            except InputError as e:
                caps.append(Capture(source=str(path), captured=now, error=str(e)))
                continue
            caps.append(Capture(source=str(path), captured=files.capture_time(path, now), data=data, format=fmt))
    return caps


def parse_capture(cap: Capture) -> Listing:
    from paperdigest.sources.parse import parse_listing

    assert cap.data is not None
    return parse_listing(cap.data, name=cap.source, format=cap.format, content_type=cap.content_type,
                         captured=cap.captured)

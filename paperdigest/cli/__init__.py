"""The ``paperdigest`` command line: ``main`` is the click group, each command lives in a module
of this package by what it does (``inputs``: ingest, rank; ``runs``: run, preview, serve;
``starter``: init; ``web``: the web app; ``papers``: show; ``suggest``: suggest)."""

from __future__ import annotations

from paperdigest.cli import inputs, papers, runs, starter, suggest, web  # noqa: F401 - registers the commands
from paperdigest.cli.app import Process, main


def entry() -> None:
    """The console script: ``main`` run as a process of its own (tests call ``main`` in-process)."""
    Process.exit_fast = True
    main()


__all__ = ["entry", "main"]

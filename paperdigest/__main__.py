"""``python -m paperdigest``: the command line."""

from paperdigest.cli import entry

entry()

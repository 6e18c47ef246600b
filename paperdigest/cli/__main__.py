"""``python -m paperdigest.cli``."""

from paperdigest.cli import entry

entry()

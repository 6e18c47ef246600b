"""The project's exception hierarchy.

Every error meant for a user is a :class:`PaperdigestError` whose ``str()`` is one line
naming the input and the reason; the CLI prints that line and never a traceback.

    PaperdigestError
    ├── ConfigError          bad config or usage (exit code 2)
    ├── InputError           one input could not be used (exit code 1, the rest goes on)
    │   ├── ParseError       no paper could be parsed, or the text is malformed
    │   └── FetchError       a live source could not be fetched
    │       └── TransientFetchError   worth retrying (timeouts, 429, 5xx)
    ├── StoreError           the store cannot be opened or upgraded
    └── DeliveryError        an email could not be delivered
        ├── TransientDeliveryError    worth retrying later (4xx, dropped connection)
        └── PermanentDeliveryError    the server refused for good (5xx)
"""

from __future__ import annotations


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace and control characters so a message stays on one line."""
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


class PaperdigestError(Exception):
    """Base class: ``str(err)`` is the one-line message shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class ConfigError(PaperdigestError):
    """The configuration or the command line is unusable (exit code 2)."""


class InputError(PaperdigestError):
    """One input (file, URL, capture) could not be used; others go on."""


class ParseError(InputError):
    """No paper could be parsed from an input, or its content is malformed."""


class FetchError(InputError):
    """A live source could not be fetched."""


class TransientFetchError(FetchError):
    """A fetch failure worth retrying: timeout, connection error, 429 or 5xx."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreError(PaperdigestError):
    """The store cannot be opened, read or upgraded."""


class DeliveryError(PaperdigestError):
    """An email could not be delivered."""


class TransientDeliveryError(DeliveryError):
    """The server may accept later (4xx reply, dropped connection, timeout)."""


class PermanentDeliveryError(DeliveryError):
    """The server refused for good (5xx reply): do not retry this address."""

"""What a reader types, read and bounded: the form body, the address, the profiles, the
personal profile (description and keywords) and the send hour and time zone.

Every problem is a :class:`FormError` naming the field and saying what to do; the page shows it
beside the form, with what the reader typed kept (escaped) so they can fix it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from functools import lru_cache
from urllib.parse import parse_qs
from zoneinfo import available_timezones

from paperdigest.delivery.textsafe import clean
from paperdigest.store import ReaderSettings

MAX_FORM_BYTES = 16 * 1024
MAX_EMAIL_LENGTH = 254
MAX_KEYWORDS = 20
MAX_KEYWORD_LENGTH = 60
MAX_DESCRIPTION_LENGTH = 1000


class FormError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_form(body: bytes) -> dict[str, list[str]]:
    """An application/x-www-form-urlencoded body (the only kind the pages send)."""
    if len(body) > MAX_FORM_BYTES:
        raise FormError("form", f"The form is too large (over {MAX_FORM_BYTES // 1024} KB).")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError("form", "The form is not UTF-8 text.") from None
    return parse_qs(text, keep_blank_values=True, max_num_fields=200)


def first(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0]


def normalize_email(text: str) -> str:
    """One address, as stored and compared: trimmed, NFC, lower case, domain in IDNA (ASCII)."""
    value = unicodedata.normalize("NFC", text.strip())
    bad = FormError("email", "Enter one email address, like reader@example.org.")
    if not value or len(value) > MAX_EMAIL_LENGTH or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise bad
    if value.count("@") != 1 or any(ch in value for ch in '<>(),;:"[]\\'):
        raise bad
    local, domain = value.split("@")
    try:
        domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise bad from None
    labels = domain.split(".")
    if (not local or len(local) > 64 or len(labels) < 2 or not all(labels)
            or any(len(lb) > 63 or lb.startswith("-") or lb.endswith("-") for lb in labels)
            or not all(ch.isalnum() or ch == "-" for lb in labels for ch in lb) or labels[-1].isdigit()):
        raise bad
    address = f"{local.lower()}@{domain}"
    try:
        Address(addr_spec=address)
    except (HeaderParseError, ValueError, IndexError):
        raise bad from None
    return address


def parse_keywords(text: str) -> tuple[str, ...]:
    """Comma-separated keywords (``a|b`` for synonyms), each one line, deduplicated, bounded."""
    from paperdigest.ranking.textmatch import analyse_keyword

    seen: set[str] = set()
    out: list[str] = []
    for raw in clean(text).split(","):
        kw = " ".join(raw.split())
        if not kw:
            continue
        if len(kw) > MAX_KEYWORD_LENGTH:
            raise FormError("keywords", f"Each keyword may have at most {MAX_KEYWORD_LENGTH} characters.")
        if not analyse_keyword(kw):
            raise FormError("keywords", f"The keyword \u201c{kw}\u201d has no word to match.")
        if kw.casefold() not in seen:
            seen.add(kw.casefold())
            out.append(kw)
    if len(out) > MAX_KEYWORDS:
        raise FormError("keywords", f"At most {MAX_KEYWORDS} keywords, please.")
    return tuple(out)


def parse_description(text: str) -> str:
    value = " ".join(clean(text).split())
    if len(value) > MAX_DESCRIPTION_LENGTH:
        raise FormError("description", f"The description may have at most {MAX_DESCRIPTION_LENGTH} characters.")
    return value


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def parse_timezone(text: str, default: str) -> str:
    value = text.strip() or default
    if value not in time_zones() and value != default:
        raise FormError("timezone", "Choose a time zone from the list.")
    return value


def parse_hour(text: str, default: int) -> int:
    value = text.strip()
    if not value:
        return default
    if not value.isdigit() or not 0 <= int(value) <= 23:
        raise FormError("send_hour", "Choose an hour from 0 to 23.")
    return int(value)


def parse_profiles(values: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    chosen = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    unknown = [v for v in chosen if v not in known]
    if unknown:
        raise FormError("profile", "Choose profiles from the list.")
    return tuple(p for p in known if p in chosen)


@dataclass(frozen=True)
class SettingsDefaults:
    timezone: str
    send_hour: int


def parse_settings(form: dict[str, list[str]], known_profiles: Sequence[str],
                   defaults: SettingsDefaults) -> ReaderSettings:
    """The settings fields of the subscribe and manage forms; at least one profile or a
    personal profile."""
    settings = ReaderSettings(
        profiles=parse_profiles(form.get("profile", []), known_profiles),
        description=parse_description(first(form, "description")),
        keywords=parse_keywords(first(form, "keywords")),
        timezone=parse_timezone(first(form, "timezone"), defaults.timezone),
        send_hour=parse_hour(first(form, "send_hour"), defaults.send_hour),
    )
    if not settings.profiles and not settings.personal:
        raise FormError("profile", "Choose at least one profile, or describe your interest or give keywords.")
    return settings

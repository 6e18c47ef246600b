"""Subscribe: the form (the config's profiles, or a personal one from a description and
keywords), a preview of what it would have sent over the last seven days, and the request that
sends a confirmation email.

``POST /subscribe`` answers the same page whether or not the address is known, and sends the
same kind of email either way (for a known reader, the link applies the new choice): nothing
tells a visitor who subscribes. It is rate-limited per client and per address.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from paperdigest.config import Profile
from paperdigest.delivery.render import render_html_body
from paperdigest.errors import DeliveryError, PaperdigestError
from paperdigest.pipeline.subscribers import PERSONAL_TITLE, default_send_hour, next_send_time, settings_profile
from paperdigest.store import ReaderSettings
from paperdigest.web.app import Web, web_of
from paperdigest.web.forms import (MAX_DESCRIPTION_LENGTH, MAX_KEYWORDS, FormError, SettingsDefaults, first,
                                   normalize_email, parse_settings, time_zones)
from paperdigest.web.mailer import confirmation_email, send_confirmation
from paperdigest.web.pages import form_page, message_page, post_route, verified

log = logging.getLogger("paperdigest.web")
router = APIRouter()
PREVIEW_DAYS = 7


def defaults(web: Web) -> SettingsDefaults:
    hour = web.cache.get("default_hour")
    if hour is None:
        hour = web.cache["default_hour"] = default_send_hour(web.config.schedule)
    return SettingsDefaults(timezone=web.config.schedule.timezone, send_hour=hour)


def profile_choices(web: Web) -> list[dict[str, Any]]:
    return [{"name": p.name, "title": p.title, "keywords": [k.split("|")[0] for k in list(p.keywords)[:6]],
             "rss": web.links.feed(p.name, "rss"), "atom": web.links.feed(p.name, "atom"),
             "digests": f"{web.root}digests/{p.name}/"} for p in web.config.profiles]


def settings_fields(web: Web, form: dict[str, list[str]] | None = None,
                    settings: ReaderSettings | None = None) -> dict[str, Any]:
    """What the settings part of a form shows: the reader's choice (as typed, or as stored)."""
    d = defaults(web)
    if settings is not None:
        values = {"profiles": list(settings.profiles), "description": settings.description,
                  "keywords": ", ".join(settings.keywords), "timezone": settings.timezone,
                  "send_hour": settings.send_hour}
    else:
        form = form or {}
        hour = first(form, "send_hour")
        values = {"profiles": form.get("profile", []), "description": first(form, "description"),
                  "keywords": first(form, "keywords"), "timezone": first(form, "timezone") or d.timezone,
                  "send_hour": int(hour) if hour.isdigit() else d.send_hour}
    return {"choices": profile_choices(web), "values": values, "time_zones": time_zones(), "hours": range(24),
            "max_keywords": MAX_KEYWORDS, "max_description": MAX_DESCRIPTION_LENGTH}


def stats(web: Web) -> Any:
    """The store's term statistics, recomputed only when papers were added."""
    from paperdigest.pipeline import term_stats

    latest = web.store.max_paper_id()
    cached = web.cache.get("stats")
    if cached is None or cached[0] != latest:
        cached = web.cache["stats"] = (latest, term_stats(web.store, save=False))
    return cached[1]


def previews(web: Web, settings: ReaderSettings) -> list[dict[str, Any]]:
    """Each chosen profile's last seven days, rendered as its email would show them."""
    from paperdigest.pipeline.meaning import MeaningSource
    from paperdigest.pipeline.preview import preview_recent

    profiles: list[Profile] = [web.config.profile(n) for n in settings.profiles]
    if settings.personal:
        profiles.append(settings_profile("personal", settings))
    views = preview_recent(web.store, profiles, stats(web), now=web.clock(), days=PREVIEW_DAYS,
                           meaning=MeaningSource(web.config, web.store, save=False))
    out = []
    for p, view in zip(profiles, views):
        note = "" if p.keywords else ("Without keywords, this profile lists only the papers closest in meaning to "
                                      "your description (the top 10% of each day's papers).")
        out.append({"title": p.title, "count": len(view.items), "note": note,
                    "body": Markup(render_html_body(view, web.config.templates))})
    return out


def subscribe_page(web: Web, request: Request, *, form: dict[str, list[str]] | None = None,
                   error: FormError | None = None, preview: ReaderSettings | None = None, status: int = 200) -> Response:
    email = first(form or {}, "email")
    return form_page(web, request, "subscribe.html.j2", {
        "title": "Subscribe", "email": email, "error": error, **settings_fields(web, form),
        "previews": previews(web, preview) if preview is not None else [], "preview_days": PREVIEW_DAYS,
    }, status=status)


@router.get("/", include_in_schema=False)
def home(request: Request) -> Response:
    return RedirectResponse(web_of(request).root + "subscribe", status_code=303)


@router.get("/subscribe")
def subscribe_form(request: Request) -> Response:
    """The form; ``?profile=NAME`` (repeatable) preselects profiles and previews them."""
    web = web_of(request)
    chosen = [p for p in request.query_params.getlist("profile") if p in web.profile_names()]
    form = {"profile": chosen} if chosen else None
    preview = None
    if chosen:
        d = defaults(web)
        preview = ReaderSettings(profiles=tuple(chosen), timezone=d.timezone, send_hour=d.send_hour)
    return subscribe_page(web, request, form=form, preview=preview)


@post_route(router, "/subscribe/preview")
def subscribe_preview(request: Request, web: Web, form: dict[str, list[str]]) -> Response:
    """The form as typed, with what the chosen profiles would have sent (changes nothing)."""
    try:
        settings = parse_settings(form, web.profile_names(), defaults(web))
    except FormError as e:
        return subscribe_page(web, request, form=form, error=e, status=400)
    return subscribe_page(web, request, form=form, preview=settings)


@post_route(router, "/subscribe")
def subscribe(request: Request, web: Web, form: dict[str, list[str]]) -> Response:
    now = web.clock()
    client = request.client.host if request.client else "unknown"
    if not web.limits.per_client.hit(client, now):
        return too_many(web, web.limits.per_client.retry_after(client, now))
    try:
        email = normalize_email(first(form, "email"))
        settings = parse_settings(form, web.profile_names(), defaults(web))
    except FormError as e:
        return subscribe_page(web, request, form=form, error=e, status=400)
    if not web.limits.per_address.hit(email, now):
        return too_many(web, web.limits.per_address.retry_after(email, now))
    nonce = secrets.token_urlsafe(12)
    sid = web.store.request_subscription(email, settings, nonce=nonce, now=now)
    url = web.links.confirm(sid, nonce, now)
    names = [web.config.profile(n).title for n in settings.profiles] + ([PERSONAL_TITLE] if settings.personal else [])
    try:
        data = confirmation_email(web.config, to=email, url=url, profiles=names, now=now)
        send_confirmation(web.config, data, to=email, tag=nonce, open_sender=web.open_sender)
    except DeliveryError as e:
        log.error("confirmation email could not be sent: %s", e)
        return message_page(web, "The email could not be sent",
                            ["Nothing was changed. Our mail server did not take the confirmation email; please try "
                             "again in a few minutes."], status=503)
    except PaperdigestError as e:
        log.error("confirmation email could not be made: %s", e)
        raise
    return message_page(web, "Check your inbox", [
        "If the address can receive email, a confirmation link is on its way to it. Follow the link within "
        "seven days to start (or change) your subscription.",
        "Nothing arrived? Look in your spam folder, or send the form again in a few minutes."])


def too_many(web: Web, retry_after: int) -> Response:
    minutes = max(1, (retry_after + 59) // 60)
    return message_page(web, "Too many requests",
                        [f"Nothing was sent. Please try again in {minutes} minute{'s' if minutes != 1 else ''}."],
                        status=429, headers={"Retry-After": str(retry_after)})


@router.get("/confirm/{token}")
def confirm(token: str, request: Request) -> Response:
    """Following the emailed link starts (or changes) the subscription it was sent for."""
    web = web_of(request)
    fields = verified(web, "confirm", token, fields=2, what="confirmation")
    if isinstance(fields, Response):
        return fields
    sid, nonce = int(fields[0]), fields[1]
    now = web.clock()
    outcome = web.store.confirm_subscription(sid, nonce, now=now,
                                             next_send=lambda tz, hour: next_send_time(tz, hour, now))
    manage = [("Change your subscription", web.links.manage(sid))]
    if outcome == "confirmed":
        sub = web.store.subscriber(sid)
        assert sub is not None
        when = f"{sub.settings.send_hour:02d}:00 ({sub.settings.timezone})"
        return message_page(web, "You are subscribed", [
            f"Your digests will arrive at {sub.email} around {when}, starting with the next one made.",
            "Every email has a link to change your profiles, keywords or send hour, and one to unsubscribe."],
            links=manage)
    if outcome == "already":
        return message_page(web, "Already confirmed", ["This subscription is active; nothing was changed."],
                            links=manage)
    return message_page(web, "This link was replaced", [
        "A newer confirmation email was sent for this address, and only its link works; nothing was changed. "
        "Use the newest email, or subscribe again."], status=409, links=[("Subscribe", web.root + "subscribe")])

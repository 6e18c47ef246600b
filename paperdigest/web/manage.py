"""The reader's own page (reached from every email's footer, signed, no login): which of the
config's profiles they get, their personal profile (description and keywords), their send hour
and time zone, their private feed, and the way out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from paperdigest.delivery.textsafe import TITLE_LIMIT, one_line, paper_url
from paperdigest.pipeline.subscribers import next_send_time
from paperdigest.store import ReaderSettings, Subscriber
from paperdigest.web.app import Web, web_of
from paperdigest.web.forms import FormError, parse_settings
from paperdigest.web.pages import form_page, message_page, post_route, verified
from paperdigest.web.subscribe import defaults, settings_fields

router = APIRouter()


def _active(web: Web, token: str) -> Subscriber | Response:
    fields = verified(web, "manage", token, fields=1, what="manage")
    if isinstance(fields, Response):
        return fields
    sub = web.store.subscriber(int(fields[0]))
    if sub is None or sub.status != "active":
        return message_page(web, "Not subscribed", ["This address is not subscribed at the moment; nothing was "
                                                    "changed. Subscribe again to choose what you get."],
                            status=404, links=[("Subscribe", web.root + "subscribe")])
    return sub


def manage_page(web: Web, request: Request, token: str, sub: Subscriber, *, form: dict[str, list[str]] | None = None,
                error: FormError | None = None, saved: bool = False, status: int = 200) -> Response:
    settings: ReaderSettings | None = None if form is not None else sub.settings
    feeds = ({"rss": web.links.private_feed(sub.feed_key, "rss"), "atom": web.links.private_feed(sub.feed_key, "atom")}
             if sub.settings.personal else None)
    counts = web.store.feedback_counts(sub.id)
    recent = [{"title": one_line(p.title, TITLE_LIMIT) or "(untitled)", "url": paper_url(p), "kind": kind,
               "more": web.links.feedback(sub.id, pid, "more"), "less": web.links.feedback(sub.id, pid, "less")}
              for pid, p, kind in web.store.papers_sent_to(sub.id)]
    return form_page(web, request, "manage.html.j2", {
        "title": "Your subscription", "email": sub.email, "action": f"{web.root}manage/{token}", "error": error,
        "saved": saved, "feeds": feeds, "liked": [p.title for p in sub.liked][-10:], "more": counts.get("more", 0),
        "less": counts.get("less", 0), "unsubscribe": web.links.unsubscribe(sub.id), "recent": recent,
        **settings_fields(web, form, settings)}, status=status)


@router.get("/manage/{token}")
def manage_form(token: str, request: Request) -> Response:
    web = web_of(request)
    sub = _active(web, token)
    if isinstance(sub, Response):
        return sub
    return manage_page(web, request, token, sub)


@post_route(router, "/manage/{token}")
def manage(request: Request, web: Web, form: dict[str, list[str]], token: str) -> Response:
    sub = _active(web, token)
    if isinstance(sub, Response):
        return sub
    try:
        settings = parse_settings(form, web.profile_names(), defaults(web))
    except FormError as e:
        return manage_page(web, request, token, sub, form=form, error=e, status=400)
    now = web.clock()
    web.store.update_settings(sub.id, settings, next_send=lambda tz, hour: next_send_time(tz, hour, now))
    fresh = web.store.subscriber(sub.id)
    assert fresh is not None
    return manage_page(web, request, token, fresh, saved=True)

"""Leaving in one click (RFC 8058), and coming back.

``POST /unsubscribe/<token>`` with the body ``List-Unsubscribe=One-Click`` (what a mail
provider sends for the ``List-Unsubscribe-Post`` header) ends the subscription at once: no
login, no confirmation page, no CSRF token (the signed URL is the authority; another site
cannot know it). ``GET`` shows a page with a button that does the same, and the page after
offers to resubscribe. Nothing queued for the reader is sent after it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from paperdigest.pipeline.subscribers import next_send_time
from paperdigest.store import Subscriber
from paperdigest.web.app import Web, web_of
from paperdigest.web.pages import form_page, message_page, post_route, verified

router = APIRouter()
ONE_CLICK = "One-Click"


def _reader(web: Web, token: str) -> Subscriber | Response:
    fields = verified(web, "unsubscribe", token, fields=1, what="unsubscribe")
    if isinstance(fields, Response):
        return fields
    sub = web.store.subscriber(int(fields[0]))
    if sub is None:
        return message_page(web, "Not subscribed", ["This address is not subscribed (any more); nothing was changed."],
                            status=404, links=[("Subscribe", web.root + "subscribe")])
    return sub


def _page(web: Web, request: Request, token: str, sub: Subscriber, *, done: bool = False) -> Response:
    active = sub.status == "active"
    return form_page(web, request, "unsubscribe.html.j2", {
        "title": "Unsubscribe" if active else "You are unsubscribed", "active": active, "email": sub.email,
        "done": done, "action": f"{web.root}unsubscribe/{token}", "resubscribe": f"{web.root}resubscribe/{token}",
        "manage": web.links.manage(sub.id)})


@router.get("/unsubscribe/{token}")
def unsubscribe_page(token: str, request: Request) -> Response:
    web = web_of(request)
    sub = _reader(web, token)
    return sub if isinstance(sub, Response) else _page(web, request, token, sub)


@post_route(router, "/unsubscribe/{token}", csrf_exempt=("List-Unsubscribe", ONE_CLICK))
def unsubscribe(request: Request, web: Web, form: dict[str, list[str]], token: str) -> Response:
    sub = _reader(web, token)
    if isinstance(sub, Response):
        return sub
    web.store.unsubscribe(sub.id, now=web.clock())
    left = web.store.subscriber(sub.id)
    assert left is not None
    return _page(web, request, token, left, done=True)


@post_route(router, "/resubscribe/{token}")
def resubscribe(request: Request, web: Web, form: dict[str, list[str]], token: str) -> Response:
    sub = _reader(web, token)
    if isinstance(sub, Response):
        return sub
    now = web.clock()
    web.store.resubscribe(sub.id, next_send=lambda tz, hour: next_send_time(tz, hour, now))
    return message_page(web, "Welcome back", [
        "You are subscribed again, with the same profiles and send hour. Digests made while you were away are "
        "not sent."], links=[("Change your subscription", web.links.manage(sub.id))])

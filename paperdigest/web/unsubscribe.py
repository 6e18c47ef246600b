"""Leaving in one click (RFC 8058), and coming back.

``POST /unsubscribe/<token>`` with the body ``List-Unsubscribe=One-Click`` (what a mail
provider sends for the ``List-Unsubscribe-Post`` header) ends the subscription at once: no
login, no confirmation page, no CSRF token (the signed URL is the authority; another site
cannot know it). ``GET`` shows a page with a button that does the same, and the page after
offers to resubscribe. Nothing queued for the reader is sent after it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from paperdigest.pipeline.subscribers import next_send_time
from paperdigest.web.app import Web, web_of
from paperdigest.web.forms import FormError, first, parse_form
from paperdigest.web.pages import csrf_ok, forbidden, form_page, message_page, verified

router = APIRouter()
ONE_CLICK = "One-Click"


def _reader(web: Web, token: str) -> int | Response:
    fields = verified(web, "unsubscribe", token, fields=1, what="unsubscribe")
    if isinstance(fields, Response):
        return fields
    sid = int(fields[0])
    if web.store.subscriber(sid) is None:
        return message_page(web, "Not subscribed", ["This address is not subscribed (any more); nothing was changed."],
                            status=404, links=[("Subscribe", web.root + "subscribe")])
    return sid


@router.get("/unsubscribe/{token}")
def unsubscribe_page(token: str, request: Request) -> Response:
    web = web_of(request)
    sid = _reader(web, token)
    if isinstance(sid, Response):
        return sid
    sub = web.store.subscriber(sid)
    assert sub is not None
    return form_page(web, request, "unsubscribe.html.j2", {
        "title": "Unsubscribe" if sub.status == "active" else "You are unsubscribed",
        "active": sub.status == "active", "email": sub.email, "action": f"{web.root}unsubscribe/{token}",
        "resubscribe": f"{web.root}resubscribe/{token}", "manage": web.links.manage(sid)})


@router.post("/unsubscribe/{token}")
async def unsubscribe(token: str, request: Request) -> Response:
    return await run_in_threadpool(_unsubscribe, token, request, await request.body())


def _unsubscribe(token: str, request: Request, body: bytes) -> Response:
    web = web_of(request)
    try:
        form = parse_form(body)
    except FormError:
        form = {}
    one_click = first(form, "List-Unsubscribe") == ONE_CLICK
    if not one_click and not csrf_ok(web, request, form):
        return forbidden(web)
    sid = _reader(web, token)
    if isinstance(sid, Response):
        return sid
    web.store.unsubscribe(sid, now=web.clock())
    sub = web.store.subscriber(sid)
    assert sub is not None
    return form_page(web, request, "unsubscribe.html.j2", {
        "title": "You are unsubscribed", "active": False, "email": sub.email, "done": True,
        "action": f"{web.root}unsubscribe/{token}", "resubscribe": f"{web.root}resubscribe/{token}",
        "manage": web.links.manage(sid)})


@router.post("/resubscribe/{token}")
async def resubscribe(token: str, request: Request) -> Response:
    return await run_in_threadpool(_resubscribe, token, request, await request.body())


def _resubscribe(token: str, request: Request, body: bytes) -> Response:
    web = web_of(request)
    try:
        form = parse_form(body)
    except FormError as e:
        return message_page(web, "Bad request", [e.message], status=400)
    if not csrf_ok(web, request, form):
        return forbidden(web)
    sid = _reader(web, token)
    if isinstance(sid, Response):
        return sid
    now = web.clock()
    web.store.resubscribe(sid, next_send=lambda tz, hour: next_send_time(tz, hour, now))
    return message_page(web, "Welcome back", [
        "You are subscribed again, with the same profiles and send hour. Digests made while you were away are "
        "not sent."], links=[("Change your subscription", web.links.manage(sid))])

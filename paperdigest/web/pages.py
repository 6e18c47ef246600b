"""Rendering the web pages: the templates of ``templates/web/`` (autoescaped, as every
``*.html.j2``), the headers every response carries, the CSRF cookie of a page with a form, and
the one-message pages (confirmed, check your inbox, errors).

Paper and reader text reaches a page only as template values, which Jinja escapes; a digest's
body is the email's, already escaped and then sanitized with nh3. The Content-Security-Policy
allows nothing but the site's own stylesheets and form posts to itself: no script, no frame,
no image from elsewhere, and no referrer (page URLs carry tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from paperdigest.delivery.templating import render_template
from paperdigest.web import csrf

if TYPE_CHECKING:
    from paperdigest.web.app import Web

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
NO_STORE = {"Cache-Control": "no-store"}


def render(web: Web, name: str, context: Mapping[str, Any]) -> str:
    return render_template(f"web/{name}", {"root": web.root, "site": "paperdigest", **context})


def page(web: Web, name: str, context: Mapping[str, Any], *, status: int = 200,
         headers: Mapping[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(render(web, name, context), status_code=status, headers={**NO_STORE, **(headers or {})})


def form_page(web: Web, request: Request, name: str, context: Mapping[str, Any], *, status: int = 200) -> HTMLResponse:
    """A page with a form: its CSRF field, and the cookie it is checked against (kept if the
    browser already has one, so two open tabs both work)."""
    cookie = request.cookies.get(csrf.COOKIE)
    fresh = not cookie or len(cookie) > 64
    if fresh:
        cookie = csrf.new_cookie()
    assert cookie is not None
    response = page(web, name, {**context, "csrf": csrf.form_token(web.signer, cookie)}, status=status)
    if fresh:
        response.set_cookie(csrf.COOKIE, cookie, httponly=True, samesite="strict", path=web.root,
                            secure=request.url.scheme == "https")
    return response


def csrf_ok(web: Web, request: Request, form: Mapping[str, Sequence[str]]) -> bool:
    field = (form.get(csrf.FIELD) or [""])[0]
    return csrf.valid(web.signer, request.cookies.get(csrf.COOKIE), field)


def message_page(web: Web, title: str, paragraphs: Sequence[str], *, status: int = 200,
                 links: Sequence[tuple[str, str]] = (), headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """A page that says one thing and, where there is one, what to do next (``links``)."""
    return page(web, "message.html.j2", {"title": title, "paragraphs": list(paragraphs), "links": list(links)},
                status=status, headers=headers)


def forbidden(web: Web) -> HTMLResponse:
    return message_page(web, "This form has expired",
                        ["The form was not accepted (its security token is missing or stale), and nothing was "
                         "changed. Go back, reload the page and send it again."], status=403)


def bad_link(web: Web, expired: bool, what: str) -> HTMLResponse:
    """A forged, altered or expired link: nothing changed, and what to do instead."""
    if expired:
        return message_page(web, "This link has expired",
                            [f"This {what} link is too old to use, and nothing was changed. Subscribe again to get "
                             "a fresh one."], status=410, links=[("Subscribe", web.root + "subscribe")])
    return message_page(web, "This link is not valid",
                        [f"This {what} link is incomplete or was changed, and nothing was changed. Use the link "
                         "exactly as it is in your email (some mail programs break long links: copy the whole "
                         "of it), or subscribe again."], status=400, links=[("Subscribe", web.root + "subscribe")])


def verified(web: Web, purpose: str, token: str, *, fields: int, what: str) -> list[str] | HTMLResponse:
    """The token's fields, or the page a forged, altered or expired link gets."""
    from paperdigest.delivery.signing import BadToken, ExpiredToken

    try:
        return web.signer.verify(purpose, token, web.clock(), fields=fields)
    except ExpiredToken:
        return bad_link(web, True, what)
    except BadToken:
        return bad_link(web, False, what)


def posted_form(web: Web, body: bytes, request: Request, *, csrf_exempt: tuple[str, str] | None = None
                ) -> dict[str, list[str]] | Response:
    """The posted form, or the answer to a bad one: 400 for a body that is no form, 403 without a
    valid CSRF token, unless the form holds the field and value ``csrf_exempt`` (an RFC 8058
    one-click POST, whose signed URL is its authority)."""
    from paperdigest.web.forms import FormError, first, parse_form

    try:
        form = parse_form(body)
    except FormError as e:
        return message_page(web, "Bad request", [e.message], status=400)
    if csrf_exempt is not None and first(form, csrf_exempt[0]) == csrf_exempt[1]:
        return form
    if not csrf_ok(web, request, form):
        return forbidden(web)
    return form


def post_route(router: APIRouter, path: str, *, csrf_exempt: tuple[str, str] | None = None
               ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register ``handler(request, web, form, **path_params)`` for POST, called only for a
    well-formed form with a valid CSRF token (see :func:`posted_form`). The body is read on the
    event loop, then the handler (store writes, email) runs in the thread pool, as a sync route
    does."""

    def register(handler: Callable[..., Response]) -> Callable[..., Response]:
        def checked(request: Request, body: bytes, params: dict[str, Any]) -> Response:
            from paperdigest.web.app import web_of

            web = web_of(request)
            form = posted_form(web, body, request, csrf_exempt=csrf_exempt)
            return form if isinstance(form, Response) else handler(request, web, form, **params)

        async def endpoint(request: Request) -> Response:
            return await run_in_threadpool(checked, request, await request.body(), request.path_params)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        router.add_api_route(path, endpoint, methods=["POST"], include_in_schema=False)
        return handler

    return register

"""Past digests as pages: ``/digests/<profile>/`` lists a profile's digests, newest first, and
``/digests/<profile>/<date>/`` shows one as its email does, each paper with its reason.
Personal digests are private: they have no pages (their readers get them by email and feed)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from paperdigest.delivery.render import render_html_body
from paperdigest.web.app import web_of
from paperdigest.web.pages import message_page, page

router = APIRouter()


@router.get("/digests/")
def all_profiles(request: Request) -> Response:
    web = web_of(request)
    return page(web, "digests.html.j2", {"title": "Past digests", "profile": None,
                                         "profiles": [(p.name, p.title) for p in web.config.profiles]})


@router.get("/digests/{profile}/")
def digest_list(profile: str, request: Request) -> Response:
    web = web_of(request)
    if profile not in web.profile_names():
        return message_page(web, "No such profile", ["There is no profile with this name."], status=404)
    p = web.config.profile(profile)
    return page(web, "digests.html.j2", {
        "title": f"Past digests: {p.title}", "profile": p.name, "digests": web.store.digests_of(profile),
        "rss": web.links.feed(p.name, "rss"), "atom": web.links.feed(p.name, "atom")})


@router.get("/digests/{profile}/{day}/")
def digest_page(profile: str, day: str, request: Request) -> Response:
    web = web_of(request)
    digest_id = web.store.digest_id_by_key(f"{profile}/{day}") if profile in web.profile_names() else None
    if digest_id is None:
        return message_page(web, "No such digest", ["There is no digest at this address."], status=404,
                            links=[("Past digests", f"{web.root}digests/")])
    view = web.store.digest_view(digest_id)
    return page(web, "digest.html.j2", {"title": f"{view.profile_title}: {view.date.isoformat()}",
                                        "profile": profile, "body": Markup(render_html_body(view, web.config.templates))})

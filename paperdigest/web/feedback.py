""""More like this" / "not for me": one click from an email, signed, no login. The latest
click on a paper counts; the liked papers become the ``liked`` of the reader's personal
profile (what the semantic ranking learns from), and both kinds are kept in the store.

These are links (GET), as a one-click action from an email must be: a mail scanner that
opens every link would record both kinds for a paper, and the later one wins. The page says
what was recorded and offers the other choice.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from paperdigest.delivery.textsafe import TITLE_LIMIT, one_line
from paperdigest.web.app import web_of
from paperdigest.web.pages import message_page, verified

router = APIRouter()
KINDS = {"more": "more like this", "less": "not for me"}


@router.get("/feedback/{token}")
def feedback(token: str, request: Request) -> Response:
    web = web_of(request)
    fields = verified(web, "feedback", token, fields=3, what="feedback")
    if isinstance(fields, Response):
        return fields
    sid, paper_id, kind = int(fields[0]), int(fields[1]), fields[2]
    sub = web.store.subscriber(sid)
    if kind not in KINDS or sub is None or sub.status != "active":
        return message_page(web, "Not recorded", ["This address is not subscribed at the moment; nothing was "
                                                  "recorded."], status=404,
                            links=[("Subscribe", web.root + "subscribe")])
    paper = web.store.record_feedback(sid, paper_id, kind, now=web.clock())
    if paper is None:
        return message_page(web, "Not recorded", ["That paper is not known here; nothing was recorded."], status=404)
    title = one_line(paper.title, TITLE_LIMIT) or "(untitled)"
    other = "less" if kind == "more" else "more"
    what = ("It is kept with your personal profile's liked papers, which its ranking learns from."
            if kind == "more" else "It is kept with your personal profile as a paper you do not want.")
    if not sub.settings.personal:
        what += " It counts once you set up a personal profile (a description or keywords)."
    return message_page(web, "Thank you", [f"Recorded \u201c{KINDS[kind]}\u201d for \u201c{title}\u201d.", what],
                        links=[(f"Change to \u201c{KINDS[other]}\u201d", web.links.feedback(sid, paper_id, other)),
                               ("Change your subscription", web.links.manage(sid))])

"""The web app for readers: subscribe, confirm, tune, leave; feeds and past digests served.

Server-rendered pages (Jinja templates in ``templates/web/``), no JavaScript. Built on FastAPI
and run by uvicorn (both come with Prefect; the core never imports Prefect). Importing this
package is cheap: FastAPI is imported by :mod:`paperdigest.web.app` only, so the run, which
signs links with :mod:`paperdigest.delivery.signing` and :mod:`paperdigest.delivery.links`, does not pay
for it.

Modules by concern (signed links and the URLs a reader gets live in ``delivery``, which the
run uses too): ``forms`` (reading and bounding what a reader types), ``csrf``, ``ratelimit``, ``pages``
(rendering, security headers, error pages), ``mailer`` (the confirmation email), ``app`` (the
app factory), the routes (``subscribe``, ``manage``, ``unsubscribe``, ``feedback``, ``feeds``,
``digests``) and ``server`` (uvicorn).
"""

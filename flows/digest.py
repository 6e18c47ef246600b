"""The Prefect flow ``digest``: it only wires the core's steps (:mod:`paperdigest.pipeline`) as tasks.

This file is the deployment entrypoint of ``prefect.yaml``. paperdigest's packaging ships the
``flows/`` folder inside the package, so this module is ``paperdigest.flows.digest`` in a source
checkout, an editable install and a wheel alike: the entrypoint ``paperdigest.flows.digest:digest``,
and what ``paperdigest run`` and ``paperdigest serve`` import.

Only fetching and sending retry, and only on transient errors (timeouts, dropped
connections, HTTP 408/429/5xx, SMTP 4xx): a 404 (any other 4xx), an oversize body or a
parse error is final at once. Everything else is recorded in the store and reported, so
a retry or the next run picks up exactly what is owed.

Fetch retries come in two layers, because Prefect fixes a task's retry delays when the
task is defined and so cannot wait as long as a server asks:

* inside one attempt of ``fetch_listing``: a 429/503 carrying ``Retry-After`` is waited out
  exactly (at most ``fetch.MAX_RETRY_AFTER``) and the fetch is tried once more;
* Prefect retries the task twice, 2 s and then 10 s later, for every other transient
  failure (a timeout, a 5xx without Retry-After, a second Retry-After).

A source still failing after that is reported with its error while the others go on.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "paperdigest")

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import acreate_table_artifact, create_markdown_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from paperdigest import pipeline  # noqa: E402
from paperdigest.config import Config, load_config  # noqa: E402
from paperdigest.delivery.render import check_templates  # noqa: E402
from paperdigest.errors import DeliveryError, InputError, TransientDeliveryError, TransientFetchError  # noqa: E402
from paperdigest.sources.fetch import is_transient  # noqa: E402
from paperdigest.pipeline.meaning import MeaningSource  # noqa: E402
from paperdigest.store import Store  # noqa: E402

DEPLOYMENT_NAME = "paperdigest"


def _retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - the state's own exception
        return is_transient(exc) or isinstance(exc, TransientDeliveryError)
    return False


@task(cache_policy=NO_CACHE)
def read_listings(config: Config, extra: list[str], now: datetime) -> list[pipeline.Capture]:
    return pipeline.read_file_sources(config, now=now) + pipeline.read_path_captures(
        extra, max_bytes=config.max_input_bytes, now=now)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_retry_if_transient)
def fetch_listing(client: Any, config: Config, source_name: str, now: datetime) -> pipeline.Capture:
    """One attempt at one URL source; honours Retry-After itself, leaves other retries to Prefect."""
    logger = get_run_logger()
    source = next(s for s in config.sources if s.name == source_name)
    with Store(config.store_url) as store:
        try:
            cap = pipeline.fetch_capture(client, source, store, max_bytes=config.max_input_bytes, now=now)
        except TransientFetchError as e:
            if e.retry_after is None:
                raise
            logger.warning("%s; trying again in %g s, as the server asked", e, e.retry_after)
            time.sleep(e.retry_after)
            cap = pipeline.fetch_capture(client, source, store, max_bytes=config.max_input_bytes, now=now)
    if cap.not_modified:
        logger.info('source "%s": not modified (304), nothing to parse', source.name)
    else:
        logger.info('source "%s": %d bytes (%s)', source.name, len(cap.data or b""), cap.content_type or "no type")
    return cap


@task(cache_policy=NO_CACHE)
def ingest_listing(config: Config, capture: pipeline.Capture, now: datetime) -> pipeline.InputReport:
    with Store(config.store_url) as store:
        report = pipeline.ingest_capture(store, capture, output_dir=config.output_dir, now=now)
    # Errors and warnings are logged by the core (the "paperdigest" logger reaches Prefect too).
    if report.papers or report.duplicate:
        get_run_logger().info("%s: %d papers, %d new%s", report.source, report.papers, report.new,
                              " (duplicate)" if report.duplicate else "")
    return report


@task(cache_policy=NO_CACHE)
def embed_papers(config: Config) -> int:
    """Embed the papers with no vector under the current model: this run's new ones (all of them
    after a model change); nothing, and no model loaded, when no profile ranks by meaning."""
    with Store(config.store_url) as store:
        return pipeline.embed_papers(store, config)


@task(cache_policy=NO_CACHE)
def update_term_stats(config: Config) -> Any:
    """Bring the store's IDF statistics up to date once per run (only new papers are read)."""
    with Store(config.store_url) as store:
        return pipeline.term_stats(store)


@task(cache_policy=NO_CACHE)
def rank_profile(config: Config, profile_name: str, now: datetime, warnings: list[str], stats: Any) -> Any:
    """One profile's ranking and digest: independent of the others, so it can run on any worker."""
    profile = next(p for p in config.profiles if p.name == profile_name)
    with Store(config.store_url) as store:
        return pipeline.build_profile_digest(store, profile, stats, now=now, day=pipeline.digest_day(config, now),
                                             warnings=warnings, tz=pipeline.schedule_zone(config),
                                             meaning=MeaningSource(config, store))


@task(cache_policy=NO_CACHE)
def rank_personal(config: Config, now: datetime, warnings: list[str], stats: Any, scheduled: bool) -> int:
    """Every web subscriber's personal digest (one reader's failure is logged, the rest go on)."""
    from paperdigest.pipeline.subscribers import build_personal_digests

    with Store(config.store_url) as store:
        made = build_personal_digests(store, config, stats, now=now, day=pipeline.digest_day(config, now),
                                      warnings=warnings, scheduled=scheduled)
    return sum(1 for r in made.values() if r is not None)


@task(cache_policy=NO_CACHE)
def queue_subscribers(config: Config, now: datetime) -> int:
    """Owe each web subscriber whose hour has come what their profiles made."""
    from paperdigest.pipeline.subscribers import queue_due

    with Store(config.store_url) as store:
        return queue_due(store, config, now=now)


@task(cache_policy=NO_CACHE)
def render_digests(config: Config) -> list[Path]:
    from paperdigest.delivery.render import render_markdown

    with Store(config.store_url) as store:
        written = []
        for digest_id in store.digests_without_markdown():
            path = pipeline.write_markdown(store, digest_id, config.output_dir, config.templates)
            view = store.digest_view(digest_id)
            key = "digest-" + "".join(c if c.isalnum() else "-" for c in view.profile_name.lower())
            create_markdown_artifact(markdown=render_markdown(view, config.templates), key=key[:100],
                                     description=f"{view.profile_title}: {len(view.items)} papers ({view.date})")
            written.append(path)
    return written


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_retry_if_transient)
def send_emails(config: Config, now: datetime) -> list[pipeline.EmailReport]:
    """Send what is owed; if a transient failure left some owed, raise so Prefect retries."""
    from paperdigest.delivery.links import links_for

    with Store(config.store_url) as store:
        reports = pipeline.deliver_owed(store, config, owner=pipeline.run_owner(), now=now, links=links_for(config))
        owed = [r for r in reports if r.status == "failed"]
        still_pending = {(k, to) for k, to, status, _e, _c in store.delivery_status() if status == "pending"}
    for r in reports:
        get_run_logger().info("%s -> %s: %s", r.digest, r.to, r.status)
    retry = [r for r in owed if (r.digest, r.to) in still_pending]
    if retry:
        raise TransientDeliveryError(f"{len(retry)} email(s) failed transiently; first: {retry[0].error}")
    return reports


@task(cache_policy=NO_CACHE)
def publish_feeds(config: Config, now: datetime) -> dict[str, dict[str, Path]]:
    with Store(config.store_url) as store:
        return pipeline.publish_feeds(store, config, now)


@flow(name="digest", log_prints=False)
async def digest(config_path: str, snapshots: list[str] | None = None, now: str | None = None,
                 scheduled: bool = False) -> dict[str, Any]:
    """Ingest new listings, rank them per profile, render and deliver the digests.

    ``scheduled`` (the hourly deployment of a config with ``[web]``): make each profile's digest
    only when ``[schedule] cron`` has fired since its last one; web subscribers get what they
    are owed at their own hour either way."""
    from paperdigest.pipeline.subscribers import digest_due
    from paperdigest.delivery.links import links_for

    when = datetime.fromisoformat(now) if now else datetime.now(timezone.utc)
    config = load_config(config_path)
    check_templates(config.templates, when)
    web = links_for(config) is not None  # a missing secret fails here, before anything is done
    pipeline.check_embedder(config)  # a bad [semantic] model fails here, before anything changes
    captures = read_listings(config, list(snapshots or []), when)
    url_sources = [s for s in config.sources if s.url]
    if url_sources:
        from paperdigest.sources.fetch import make_client

        with make_client() as client:
            for s in url_sources:
                fetched = fetch_listing(client, config, s.name, when, return_state=True)
                try:
                    captures.append(await fetched.aresult())
                except Exception as e:  # noqa: BLE001 - reported as this source's failure
                    error = str(e) if isinstance(e, InputError) else f'source "{s.name}": {type(e).__name__}: {e}'
                    captures.append(pipeline.Capture(source=s.name, captured=when, error=error))
    reports = [ingest_listing(config, c, when) for c in captures]
    embed_papers(config)
    warnings = [r.warning for r in reports if r.warning]
    stats = update_term_stats(config)
    records: dict[str, Any] = {}
    with Store(config.store_url) as store:
        due = [p for p in config.profiles
               if not scheduled or digest_due(config.schedule, store.last_digest_at(p.name), when)]
    for p in due:
        records[p.name] = rank_profile(config, p.name, when, warnings, stats)
    if web:
        rank_personal(config, when, warnings, stats, scheduled)
    render_digests(config)
    if web:
        queue_subscribers(config, when)
    errors: list[str] = []
    emails: list[pipeline.EmailReport] = []
    sent = send_emails(config, when, return_state=True)
    try:
        emails = await sent.aresult()
    except DeliveryError as e:
        errors.append(str(e))
    feeds = publish_feeds(config, when)
    await acreate_table_artifact(key="ingest-report", table=[r.to_json() for r in reports],
                                 description="What each input held: papers, new, errors, warnings")
    with Store(config.store_url) as store:
        report = pipeline.assemble_report(store, config, reports, records, feeds, emails, errors)
    return report.to_json()


def run_flow(config_path: str, snapshots: list[str], now: datetime, scheduled: bool = False) -> dict[str, Any]:
    """Run the flow once in this process and return its report."""
    return asyncio.run(digest(config_path=str(Path(config_path).resolve()), snapshots=snapshots,
                              now=now.isoformat(), scheduled=scheduled))


def hourly_cron(config: Config) -> str:
    """Every hour, at the minute of ``[schedule] cron`` (0 when it names several)."""
    minute = config.schedule.cron.split()[0]
    return f"{minute if minute.isdigit() else 0} * * * *"


def deployment(config: Config) -> Any:
    """The ``digest`` deployment: what ``serve`` serves and what ``prefect.yaml`` declares for
    work pools (a module entrypoint, as there). On the config's schedule; with ``[web]``, every
    hour instead (``scheduled``: digests still at the config's pace, each reader at their hour)."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    params: dict[str, Any] = {"config_path": str(config.path.resolve())}
    if config.web is None:
        schedule = Cron(config.schedule.cron, timezone=config.schedule.timezone)
        what = "Daily paperdigest run"
    else:
        schedule = Cron(hourly_cron(config), timezone=config.schedule.timezone)
        params["scheduled"] = True
        what = "Hourly paperdigest run: digests on [schedule] cron, each web subscriber at their hour"
    return digest.to_deployment(name=DEPLOYMENT_NAME, schedules=[schedule], parameters=params, description=what,
                                entrypoint_type=EntrypointType.MODULE_PATH)


def serve_deployment(config: Config) -> None:
    """Serve the ``digest`` deployment on its schedule (blocks; needs a Prefect server). With
    ``[web]``, the web app is served beside it, in a thread of this process."""
    from prefect import serve

    if config.web is not None:
        from paperdigest.web.server import start_in_thread

        start_in_thread(config)
    serve(deployment(config))

"""The Prefect flow ``digest`` end to end, against one temporary Prefect server for the session.

Two flow runs in all (each costs seconds): the first meets every kind of live-source trouble
the flow itself must handle; the second goes through ``paperdigest run`` and meets a 304.
``paperdigest serve`` itself needs a long-lived server and is checked by hand (README, "Scheduled runs");
here only the deployment it serves is compared with ``prefect.yaml``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner

from paperdigest.config import load_config
from paperdigest.store import Store

from .conftest import NOW
from .http_server import Reply, ScriptedServer, Seen
from .test_pipeline import LISTING_A
from .test_sources import JSON_FEED, invented_feed, source_toml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="module")
def http() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def setup(http: ScriptedServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flow")
    (root / "listing.txt").write_text(LISTING_A)
    from .conftest import BASE_CONFIG

    etag = '"feed-1"'

    def hf_second_and_later(seen: Seen) -> Reply:
        if seen.headers.get("If-None-Match") == etag:
            return Reply(304, {"ETag": etag})
        return Reply(200, {**JSON_FEED, "ETag": etag}, invented_feed(1, 6))

    http.script("/hf", Reply(503), hf_second_and_later)
    http.script("/limited", Reply(429, {"Retry-After": "1"}), Reply(200, JSON_FEED, invented_feed(50, 3)))
    # "/gone" is not scripted: the server answers 404.
    config = root / "paperdigest.toml"
    config.write_text(BASE_CONFIG + '\n[[source]]\nname = "file"\npath = "listing.txt"\n'
                      + source_toml("hf", http.url("/hf"))
                      + source_toml("limited", http.url("/limited"))
                      + source_toml("gone", http.url("/gone"))
                      + '\n[[profile]]\nname = "meaning"\ndescription = "Smaller, faster language models."\n')
    return config


async def _read_back(flow_run_id: UUID) -> tuple[Any, list[Any], list[Any]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    async with get_client() as client:
        flow_run = await client.read_flow_run(flow_run_id)
        artifacts = await client.read_artifacts(flow_run_filter=runs)
        task_runs = await client.read_task_runs(flow_run_filter=runs)
    return flow_run, artifacts, task_runs


@pytest.mark.prefect
def test_flow_retries_transient_fetches_only_and_publishes_artifacts(prefect_server, http, setup) -> None:
    from paperdigest.flows.digest import digest

    started = time.monotonic()
    state = asyncio.run(digest(config_path=str(setup), now=NOW.isoformat(), return_state=True))
    elapsed = time.monotonic() - started
    report = state.result()
    flow_run, artifacts, task_runs = asyncio.run(_read_back(state.state_details.flow_run_id))

    # The report: every source accounted for, the 404 one failed, so the run is failed.
    snaps = {Path(s["source"]).name: s for s in report["snapshots"]}
    assert snaps["listing.txt"]["new"] == 3 and snaps["listing.txt"]["error"] is None
    assert snaps["hf"]["new"] == 6 and snaps["hf"]["error"] is None
    assert snaps["limited"]["new"] == 3 and snaps["limited"]["error"] is None
    assert snaps["gone"]["error"].startswith('source "gone": ') and "HTTP 404" in snaps["gone"]["error"]
    assert report["failed"] is True and report["new_papers"] == 12
    assert flow_run.state.is_completed()

    # Retries: Prefect retried the 503 (2 s later); the 429's Retry-After was waited out in the
    # task; the 404 was asked once.
    assert [len(http.requests_to(p)) for p in ("/hf", "/limited", "/gone")] == [2, 2, 1]
    fetches = {tr.id: tr for tr in task_runs if tr.name.startswith("fetch_listing")}
    run_counts = sorted(tr.run_count for tr in fetches.values())
    assert run_counts == [1, 1, 2], [(tr.name, tr.run_count, tr.state_name) for tr in fetches.values()]
    failed = [tr for tr in fetches.values() if tr.state_name == "Failed"]
    assert len(failed) == 1 and failed[0].run_count == 1
    assert elapsed >= 3.0  # 2 s Prefect retry delay + 1 s Retry-After, at least

    # Artifacts: one Markdown digest per profile and the ingest table.
    by_key = {a.key: a for a in artifacts}
    assert by_key["digest-inference"].type == "markdown"
    assert by_key["digest-inference"].data.startswith("# Efficient inference: paper digest for 2026-11-25")
    table = by_key["ingest-report"]
    assert table.type == "table"
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert {Path(r["source"]).name for r in rows} == {"listing.txt", "hf", "limited", "gone"}
    assert set(rows[0]) >= {"source", "papers", "new", "error", "warning", "not_modified"}

    # Emails: to the outbox (no SMTP configured), one per recipient.
    digest_report = report["digests"][0]
    assert digest_report["items"]
    assert sorted(e["to"] for e in digest_report["emails"]) == ["alice@example.org", "bob@example.org"]
    assert all(e["status"] == "outbox" for e in digest_report["emails"])
    outbox = sorted((load_config(setup).output_dir / "outbox").glob("*.eml"))
    assert len(outbox) == 2
    assert Path(digest_report["markdown"]).exists()

    # Embeddings: a task after ingest gave every stored paper its vector (a profile reads by meaning).
    assert [tr.state_name for tr in task_runs if tr.name.startswith("embed_papers")] == ["Completed"]
    from paperdigest.pipeline import embedder_for

    with Store(load_config(setup).store_url) as store:
        assert store.paper_count() == 12
        assert store.paper_ids_without_vectors(embedder_for(load_config(setup)).key) == []


@pytest.mark.prefect
def test_cli_run_through_prefect_meets_a_304(prefect_server, http, setup) -> None:
    from paperdigest.cli import main

    before = len(http.requests_to("/hf"))
    result = CliRunner().invoke(main, ["run", "--config", str(setup), "--json"], catch_exceptions=False)

    assert result.exit_code == 1  # "gone" still fails
    data = json.loads(result.stdout)
    snaps = {Path(s["source"]).name: s for s in data["snapshots"]}
    assert snaps["hf"]["not_modified"] is True and snaps["hf"]["papers"] == 0
    assert http.requests_to("/hf")[before].headers["If-None-Match"] == '"feed-1"'
    assert snaps["listing.txt"]["duplicate"] is True
    assert data["new_papers"] == 0
    with Store(load_config(setup).store_url) as store:
        assert all(status == "sent" for _k, _to, status, _e, _c in store.delivery_status())


def test_prefect_yaml_declares_the_deployment_that_serve_serves() -> None:
    import yaml
    from prefect.utilities.importtools import import_object

    from paperdigest.flows.digest import deployment, digest

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (declared,) = spec["deployments"]
    config = load_config(ROOT / declared["parameters"]["config_path"])
    served = deployment(config)

    assert declared["name"] == served.name == "paperdigest"
    assert import_object(declared["entrypoint"]) is digest
    assert import_object(served.entrypoint) is digest
    (schedule,) = declared["schedules"]
    assert (schedule["cron"], schedule["timezone"]) == (config.schedule.cron, config.schedule.timezone)
    assert (served.schedules[0].schedule.cron, served.schedules[0].schedule.timezone) == (
        config.schedule.cron, config.schedule.timezone)
    assert served.parameters == {"config_path": str(config.path.resolve())}
    assert declared["work_pool"]["name"] == "default"
    (pull,) = spec["pull"]
    assert pull["prefect.deployments.steps.set_working_directory"]["directory"] == "{{ $PAPERDIGEST_HOME }}"

"""The end-to-end baseline: the smallest async Prefect flow with one task, run as
``paperdigest run`` runs its flow (``asyncio.run`` of an async flow, temporary server).

    python -m tests.benchmarks.trivial_flow
"""

from __future__ import annotations

import asyncio

from prefect import flow, task


@task
def one() -> int:
    return 1


@flow(name="trivial")
async def trivial() -> int:
    return one()


if __name__ == "__main__":
    assert asyncio.run(trivial()) == 1

"""Running many independent jobs (reading package headers, compressing) on every core.

Jobs run in forked worker processes: header parsing holds the GIL, so threads would not help.
Small batches stay in this process, where starting workers would cost more than it saves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

PARALLEL_FROM = 64


def in_parallel(job: Callable, items: Sequence) -> list:
    cores = os.cpu_count() or 1
    if len(items) < PARALLEL_FROM or cores < 2:
        return [job(item) for item in items]
    with ProcessPoolExecutor(cores, mp_context=get_context("fork")) as workers:
        return list(workers.map(job, items, chunksize=16))

"""Many independent jobs (reading package headers, compressing) on every core, and a store of
their results kept by content key so that later runs only build what is new.

Jobs run in forked worker processes: header parsing holds the GIL, so threads would not help.
Small batches stay in this process, where starting workers would cost more than it saves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

PARALLEL_FROM = 64


def in_parallel(job: Callable, items: Sequence) -> list:
    cores = os.cpu_count() or 1
    if len(items) < PARALLEL_FROM or cores < 2:
        return [job(item) for item in items]
    with ProcessPoolExecutor(cores, mp_context=get_context("fork")) as workers:
        return list(workers.map(job, items, chunksize=16))


def cached_results(root: Path, keys: list[str], jobs: list, build: Callable, encode: Callable[[object], bytes],
                   decode: Callable[[bytes], object], parallel: Callable = in_parallel) -> list:
    """The result of each job, read from ``root/<key>`` or built (``parallel``: in worker
    processes, unless the jobs let go of the GIL) and stored there."""
    paths = [root / key[:2] / key for key in keys]
    kept = {}
    for i, path in enumerate(paths):
        try:
            kept[i] = decode(path.read_bytes())
        except (OSError, ValueError):  # missing or damaged: built again
            continue
    missing = [i for i in range(len(keys)) if i not in kept]
    fresh = dict(zip(missing, parallel(build, [jobs[i] for i in missing]), strict=True))
    for i, result in fresh.items():
        paths[i].parent.mkdir(parents=True, exist_ok=True)
        tmp = paths[i].with_name(f".{keys[i]}.tmp")
        tmp.write_bytes(encode(result))
        os.replace(tmp, paths[i])
    return [fresh[i] if i in fresh else kept[i] for i in range(len(keys))]

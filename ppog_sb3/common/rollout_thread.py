"""The rollout's forward passes on a worker thread of their own: :class:`ForwardThread`, ``rollout_thread``.

Why (measured in ``benchmarks/rollout_profile.py --threading``, docs/speed.md): on a CPU, torch runs each forward
pass on an OpenMP team, and libgomp lets the idle workers of that team spin for a while after every parallel region
(its default spin count). In the rollout, the next thing to run is the environment: ale-py's C++ worker threads (or
``SubprocVecEnv``'s processes), which then wait for cores that torch's idle workers are spinning on. On a 2-core
machine this hand-over made the rollout ~50% slower than its parts alone. ``GOMP_SPINCOUNT=0`` removes the spin but
also slows the update, whose many parallel regions need it, and libgomp reads it only once, at start.

What this does instead: the forward passes of one rollout run on a worker thread started at the rollout's start and
joined at its end. That thread gets an OpenMP pool of its own; while it exists libgomp manages more threads than
there are cores and so spins only briefly (its throttled spin count) after each region. When the thread ends at the
end of the rollout, its pool goes with it, and the update runs with libgomp's default spin as before.

The numbers are those of the loop without the thread: the same kernels with the same thread count
(``torch.set_num_threads`` reaches new threads), one generator for sampling (torch's default CPU generator is global),
used in the same order. ``inference_mode`` and autocast are thread-local, so the work handed over enters them itself.
Callbacks, the environment and Ctrl-C (which Python delivers to the main thread only) stay on the calling thread,
which waits on each forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import torch as th

T = TypeVar("T")


def use_rollout_thread(value: bool | str, device: th.device) -> bool:
    """Whether ``rollout_thread`` (``True``, ``False`` or ``"auto"``, checked by PPOG) means a worker thread now.
    ``"auto"``: on a CPU device with more than one torch thread; with one thread there is no idle OpenMP worker to
    spin, and a CUDA forward pass does not spin on CPUs."""
    if value == "auto":
        return device.type == "cpu" and th.get_num_threads() > 1
    return bool(value)


class ForwardThread:
    """``with ForwardThread(enabled) as run: run(fn, *args)`` calls ``fn(*args)`` on one worker thread that lives as
    long as the ``with`` block (or on the calling thread when ``enabled`` is false) and returns its result; an
    exception raised by ``fn`` is raised again by ``run``."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._executor: ThreadPoolExecutor | None = None

    def __enter__(self) -> Callable[..., Any]:
        if self.enabled:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ppog-rollout-forward")
        return self.run

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            return fn(*args)
        return self._executor.submit(fn, *args).result()

    def __exit__(self, *exc_info: Any) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            # waits for a forward pass still running (a Ctrl-C arrives while the main thread waits on it), so the
            # thread and its OpenMP pool are gone before the update starts
            executor.shutdown(wait=True, cancel_futures=True)

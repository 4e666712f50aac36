"""(An investigation's script, kept with the log it produced; not a feature of the package.)
The rollout's hand-over between env steps and forward passes, four ways, in bare loops (PPOG's rollout forward
pass + the fast path's 8-env env, no buffer), alternating round by round, beside the bound measured every round:

- ``thread, 2 torch threads``: the forward passes on :class:`~ppog_sb3.common.rollout_thread.ForwardThread`'s worker
  with the caller's two torch threads (``rollout_thread=True``, the shipped ``"auto"`` on this env);
- ``main, 2 torch threads``: on the calling thread (``rollout_thread=False``);
- ``main, 1 torch thread`` and ``thread, 1 torch thread``: the same with one torch thread for the forward passes
  (``torch.set_num_threads`` before the worker starts reaches it): no OpenMP worker to spin while the env steps;
- ``main, pool held``: on the calling thread, while another thread holds an OpenMP pool of its own (it ran one
  parallel region and waits), so libgomp manages more threads than cores and throttles every spin, as it does while
  ``ForwardThread``'s worker exists, but with no hand-over between Python threads: which of the worker thread's two
  effects (a second pool, a hand-over per pass) costs its forward passes their time.

    python benchmarks/experiments/forward_thread_threads.py [ROUNDS]

Printed per 128 steps (a rollout of 1024 env-steps): the forward passes' time, the env steps' time, their sum, and the
sum against the bound (``halves_rollout_e2e.bound_once``: the env stepped alone + the forward passes back to back, two
threads each). Measured
2026-12-07, 2-core AMD EPYC Zen 5 AVX512-BF16 (``results/speed_check/forward_thread_2026-12-07_amd-avx512bf16.log``):
see docs/speed.md, 2026-12-07.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch as th

import ppog_sb3
from ppog_sb3 import PPOG
from ppog_sb3.common.rollout_thread import ForwardThread

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/experiments/
from halves_rollout_e2e import bound_once  # noqa: E402


@contextlib.contextmanager
def pool_held() -> Iterator[None]:
    """A thread that runs one OpenMP parallel region (libgomp gives it a pool of its own) and waits until the block
    ends."""
    ready, done = threading.Event(), threading.Event()

    def hold() -> None:
        th.ones(1 << 22).add_(1)  # large enough for torch to run it in parallel
        ready.set()
        done.wait()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    ready.wait()
    try:
        yield
    finally:
        done.set()
        holder.join()


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0, terminal_on_life_loss=False)
    model = PPOG("CnnPolicy", env, n_steps=128, batch_size=256, channels_last=True, seed=0, rollout_thread=False)
    model.policy.set_training_mode(False)
    caller_threads = th.get_num_threads()
    obs = env.reset()

    def forward(o: np.ndarray):
        with th.inference_mode():
            return model._rollout_forward(model._model_input(th.as_tensor(o)))

    modes = [
        ("thread, 2 torch threads", True, caller_threads),
        ("main, 2 torch threads", False, caller_threads),
        ("main, 1 torch thread", False, 1),
        ("thread, 1 torch thread", True, 1),
        ("main, pool held", False, caller_threads),
    ]
    times: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in modes}
    bounds = []
    actions = np.zeros(env.num_envs, dtype=np.int64)
    for r in range(rounds):
        for name, on_thread, threads in modes if r % 2 == 0 else modes[::-1]:
            th.set_num_threads(threads)
            held = pool_held() if name == "main, pool held" else contextlib.nullcontext()
            with held, ForwardThread(on_thread) as run:
                t_forward = t_env = 0.0
                for _ in range(128):
                    start = time.perf_counter()
                    actions = run(forward, obs)[0].numpy()
                    t_forward += time.perf_counter() - start
                    start = time.perf_counter()
                    obs = env.step(actions)[0]
                    t_env += time.perf_counter() - start
            th.set_num_threads(caller_threads)
            times[name].append((t_forward, t_env))
        bounds.append(bound_once(model, env))
        obs = env.reset()  # bound_once resets the env
    bound = float(np.mean(bounds))
    print(
        f"torch {th.__version__}, CPU capability {th.backends.cpu.get_cpu_capability()}, {rounds} alternating rounds; "
        f"bound (emulation + inference, two threads each) {bound:.3f} s per 128 steps"
    )
    for name, rows in times.items():
        t = np.array(rows)
        total = t.sum(axis=1)
        print(
            f"  {name:24s}: forward passes {t[:, 0].mean():.3f} s, env steps {t[:, 1].mean():.3f} s, total "
            f"{total.mean():.3f} (median {np.median(total):.3f}), {total.mean() / bound - 1:+.0%} over the bound"
        )


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"  ({time.perf_counter() - start:.0f} s)")

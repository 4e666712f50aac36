"""(An investigation's script, kept with the logs it produced; the maintained profile is ``benchmarks/rollout_profile.py``.)
Bare rollout loops on the fast path's C++ env: forward pass + ale-py ``send``/``recv``, nothing else.

    python benchmarks/experiments/bare_rollout_loops.py 2 2 --sync          # one 8-env env, 2 ALE threads, torch on 2 threads
    GOMP_SPINCOUNT=0 python benchmarks/experiments/bare_rollout_loops.py 2 2 --sync
    python benchmarks/experiments/bare_rollout_loops.py 1 1                 # two 4-env envs of 1 ALE thread, torch on 1 thread
    GOMP_SPINCOUNT=0 python benchmarks/experiments/bare_rollout_loops.py 2 1

Arguments: torch threads, ALE threads per env; ``--fresh-thread`` runs each measurement in a new Python thread (its own
OpenMP pool beside the main thread's); ``--sync`` for one 8-env env (2 ALE threads), else the half-batch
pipeline (half B's forward pass while half A emulates, and the reverse). Printed: seconds per 1024 env-steps, three
measurements of 256 batch steps each. Space Invaders, NatureCNN in channels-last with a 6-action head, greedy actions.

What it is for: the rollout's excess over its bound (``benchmarks/rollout_profile.py``) is the hand-over of 2 cores
between torch's OpenMP workers and ale-py's C++ threads. ``GOMP_SPINCOUNT`` (read by libgomp at start, hence an
environment variable and one process per setting) decides whether torch's idle workers spin on a core after each
forward pass. On the 2-core AMD AVX2 kind (2026-12-03,
``results/speed_check/spin_and_pipeline_2026-12-03_amd-avx2.log``) the synchronous loop with the spin off ran at its
bound (0.52-0.59 s against 0.54), 10-20% faster than with libgomp's default in 3 of 4 runs and equal in the fourth
(means 0.55 against 0.63 s); but the setting is global, and the update, with hundreds of parallel regions per
minibatch, pays the wake-ups: end to end no gain (``throughput.py``, 3 alternating rounds, same log). A lead, not
yet a feature: ``--fresh-thread`` gets most of the spin-off gain for the rollout alone (the same log: 0.645 against
0.72 s default and 0.63 spin off, means of one set of 3 alternating rounds); once the thread has exited, the main
thread's pool (the update's) should spin as by default again, which is not yet measured against a baseline.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch as th
from ale_py.vector_env import AtariVectorEnv
from stable_baselines3.common.torch_layers import NatureCNN


def make_env(num_envs: int, num_threads: int) -> AtariVectorEnv:
    return AtariVectorEnv(
        "space_invaders", num_envs=num_envs, num_threads=num_threads, frameskip=4, stack_num=4, img_height=84,
        img_width=84, repeat_action_probability=0.0, noop_max=30,
    )  # fmt: skip


def greedy_nature_cnn() -> Callable[[np.ndarray], np.ndarray]:
    """The loops' policy: NatureCNN in channels-last with a 6-action head, greedy actions (``int32``, as ale-py takes)."""
    net = NatureCNN(gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), 512).to(memory_format=th.channels_last)
    head = th.nn.Linear(512, 6)

    def act(obs: np.ndarray) -> np.ndarray:
        with th.no_grad():
            x = th.as_tensor(obs).float().div_(255).contiguous(memory_format=th.channels_last)
            return head(net(x)).argmax(1).numpy().astype(np.int32)

    return act


def main() -> None:
    torch_threads, ale_threads = int(sys.argv[1]), int(sys.argv[2])
    sync_loop = "--sync" in sys.argv
    th.set_num_threads(torch_threads)
    act = greedy_nature_cnn()

    def per_1024_steps(step, n: int, warmup: int = 20) -> float:
        """Seconds per 1024 env-steps of ``n`` calls of ``step`` (one step of all 8 envs), after ``warmup`` calls."""
        for _ in range(warmup):
            step()
        start = time.perf_counter()
        for _ in range(n):
            step()
        return (time.perf_counter() - start) * 1024 / (8 * n)

    def pipelined(n: int) -> float:
        env_a, env_b = make_env(4, ale_threads), make_env(4, ale_threads)
        obs = {"a": env_a.reset(seed=0)[0], "b": env_b.reset(seed=1)[0]}
        env_a.send(act(obs["a"]))

        def step() -> None:
            env_b.send(act(obs["b"]))  # half B's forward pass while half A emulates
            obs["a"] = env_a.recv()[0]
            env_a.send(act(obs["a"]))  # half A's while half B emulates
            obs["b"] = env_b.recv()[0]

        seconds = per_1024_steps(step, n)
        env_a.recv()
        return seconds

    def synchronous(n: int) -> float:
        env = make_env(8, 2)
        obs = {"all": env.reset(seed=0)[0]}

        def step() -> None:
            env.send(act(obs["all"]))
            obs["all"] = env.recv()[0]

        return per_1024_steps(step, n)

    loop = synchronous if sync_loop else pipelined
    spin = os.environ.get("GOMP_SPINCOUNT", "default")
    label = "sync" if sync_loop else "pipelined"
    if "--fresh-thread" in sys.argv:
        # The main thread's OpenMP pool exists (as after an update); each measurement runs in a new thread, whose
        # forward passes get a second pool: libgomp then manages more threads than there are cores and shortens
        # every spin (its "throttled" spin count) until the thread exits and its pool is freed.
        act(np.zeros((8, 4, 84, 84), np.uint8))
        label += ", fresh thread"
        results: list[float] = []

        def measure() -> None:
            results.append(loop(256))

        for _ in range(3):
            worker = threading.Thread(target=measure)
            worker.start()
            worker.join()
        times = " ".join(f"{t:.3f}" for t in results)
    else:
        times = " ".join(f"{loop(256):.3f}" for _ in range(3))
    print(f"{spin:>7} torch {torch_threads} ale {ale_threads} {label}: {times}")


if __name__ == "__main__":
    main()

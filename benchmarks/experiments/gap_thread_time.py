"""(An investigation's script, kept with the log it produced; not a feature of the package.)
Which core bounds the half-batch rollout (``halves_gap_e2e.py``'s ``gap``): each rollout's wall time beside the
CPU time of the Python thread (forward passes, buffer, callbacks) and of the rest of the process (ale-py's one C++
thread emulating all 8 envs), with and without the lean forward pass, alternating; and, every cycle, the parts a
design that gives one core to emulation and the other to inference cannot beat:

- ``E1``: the 8-env env stepped on **one** C++ thread (random actions), ``E2`` the same on two (the bound's);
- ``I1``: the half-batch forward passes (256 of batch 4) on one torch thread, ``I2``: the bound's (128 of batch 8,
  two threads).

The bound is ``E2 + I2``; a rollout whose cores specialize is at least ``max(E1, I1 + Python)``, which equals the
bound only when emulation and inference split evenly.

    python benchmarks/experiments/gap_thread_time.py [CYCLES]

Measured 2026-12-05, 2-core AMD EPYC Zen 5 AVX512-BF16, 14 cycles (``halves_gap_2026-12-05_amd-avx512bf16.log``): wall
0.409 s, the Python thread's CPU 0.366, the C++ thread's 0.353; E1 0.337, E2 0.200, I1 0.226, I2 0.127 (bound 0.327).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch as th
from ale_py.vector_env import AtariVectorEnv
from stable_baselines3.common.callbacks import CallbackList

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
sys.path.insert(0, str(Path(__file__).resolve().parent))
from halves_gap_e2e import GapPPOG  # noqa: E402
from rollout_profile import ZOO_ATARI  # noqa: E402

import ppog_sb3  # noqa: E402

KW = dict(repeat_action_probability=0.25, noop_max=30, reward_clipping=False, use_fire_reset=False)


def main() -> None:
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0, lanes=2, terminal_on_life_loss=False)
    model = GapPPOG("CnnPolicy", env, channels_last=True, seed=0, **ZOO_ATARI)
    model.setup_gap(seed=100)
    model.gap_on = True
    model.learn(2048)
    callback = CallbackList([])
    callback.init_callback(model)
    envs = {threads: AtariVectorEnv("space_invaders", 8, num_threads=threads, **KW) for threads in (1, 2)}
    obs8 = {threads: e.reset(seed=threads)[0] for threads, e in envs.items()}
    rng = np.random.default_rng(0)

    def emulation(threads: int) -> float:
        start = time.perf_counter()
        for _ in range(model.n_steps):
            obs8[threads] = envs[threads].step(rng.integers(0, 6, 8))[0]
        return time.perf_counter() - start

    def inference(threads: int) -> float:
        th.set_num_threads(threads)
        batch = obs8[1] if threads == 2 else obs8[1][:4]
        start = time.perf_counter()
        with th.inference_mode():
            for _ in range(model.n_steps * (1 if threads == 2 else 2)):
                model.lean_forward(batch)
        th.set_num_threads(2)
        return time.perf_counter() - start

    rows: dict[str, list[tuple[float, ...]]] = {"gap": [], "gap_lean": []}
    parts: list[tuple[float, ...]] = []
    for cycle in range(cycles + 2):  # the first two cycles: warm-up
        for name in ("gap", "gap_lean") if cycle % 2 == 0 else ("gap_lean", "gap"):
            model.lean = name == "gap_lean"
            wall, thread, process = time.perf_counter(), time.thread_time(), time.process_time()
            model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
            wall, thread = time.perf_counter() - wall, time.thread_time() - thread
            rows[name].append((wall, thread, time.process_time() - process - thread))
        parts.append((emulation(1), emulation(2), inference(1), inference(2)))
    print(f"torch {th.__version__}, CPU capability {th.backends.cpu.get_cpu_capability()}, {cycles} cycles")
    for name, values in rows.items():
        a = np.array(values[2:])
        print(
            f"{name:9s} wall {a[:, 0].mean():.3f} (median {np.median(a[:, 0]):.3f})  Python thread CPU {a[:, 1].mean():.3f}"
            f"  other threads CPU {a[:, 2].mean():.3f}   walls " + " ".join(f"{v:.3f}" for v in a[:, 0])
        )
    e1, e2, i1, i2 = np.array(parts[2:]).mean(0)
    print(f"E1 {e1:.3f}  E2 {e2:.3f}  I1 {i1:.3f}  I2 {i2:.3f}  bound E2 + I2 {e2 + i2:.3f}")
    print(f"one core each: max(E1, I1) {max(e1, i1):.3f} = bound {max(e1, i1) / (e2 + i2) - 1:+.0%}")
    for name, values in rows.items():
        print(f"{name:9s} {np.mean(np.array(values[2:])[:, 0]) / (e2 + i2) - 1:+.0%} over the bound")


if __name__ == "__main__":
    main()

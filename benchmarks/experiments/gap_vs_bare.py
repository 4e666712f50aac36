"""(An investigation's script, kept with the log it produced; not a feature of the package.)
Is the half-batch rollout's excess over the bound PPOG's bookkeeping, or the host's? In one process, alternating cycle
by cycle (rollout + PPOG's update each), the same one-thread envpool-style env (ale-py ``AtariVectorEnv``, 8 envs,
``batch_size=4``, one C++ thread: one core emulates, the other runs the forward passes):

    python benchmarks/experiments/gap_vs_bare.py [CYCLES]

- ``gap``: ``halves_gap_e2e.py``'s rollout (every stored sample the current policy's; buffer, infos and callbacks per
  row), ``gap_lean`` the same with its functional forward pass;
- ``bare``: the bare loop of ``rollout_designs.py``'s ``async1`` (PPOG's forward pass, ``send``/``recv``, 256 half
  steps; no buffer, no infos, no callbacks; the forward pass with its module calls, as ``gap``'s), run as the cycle's
  rollout, so it too comes right after an update; the
  update then trains on the buffer a ``gap`` rollout filled in the warm-up (its own copy), so the cycle's update
  costs what the others' do;
- ``bare_alone``: the same bare loop three times back to back outside any cycle, the last timed: no update before it.

The bound every cycle (``halves_rollout_e2e.bound_once``: the fast path's 8-env env stepped alone + PPOG's batch-8
forward pass alone, back to back, each on 2 threads). If ``bare`` is as far over the bound as ``gap``, what is left is
not PPOG's code; ``bare`` against ``bare_alone`` is what following an update costs. Last, each bare loop's mean time
per half-step by position in the rollout (the first 8, the next 24, ...): is an update's cost at the rollout's start?

Measured 2026-12-08, 2-core AMD EPYC Zen 5 AVX512-BF16, four runs (14, 14, 14, 20 cycles;
``results/speed_check/gap_vs_bare_2026-12-08_amd-avx512bf16.log``), over the bound: ``bare`` +37%, +32%, +19%, +26%;
``bare_alone`` +16%, +19%, +17%, +27%; ``gap`` +30%, +44%, +41%, +47%; ``gap_lean`` +38%, +35%, +23%, +33%. The loop
with no code of PPOG's is never within 10% of the bound that day; after an update its first 8 half-steps cost
1.2-1.4x the rest (runs 3 and 4), some 5-7 ms of a rollout: the update's cost at the start is small.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch as th

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/experiments/
from halves_gap_e2e import GapPPOG  # noqa: E402
from halves_rollout_e2e import HALF, bound_once  # noqa: E402
from rollout_profile import ZOO_ATARI, alternating_cycles, print_cycles  # noqa: E402
from throughput import _bounds, _time_phases  # noqa: E402

import ppog_sb3  # noqa: E402


class BareOrGapPPOG(GapPPOG):
    bare_on = False
    bare_steps: list  # each bare loop's half-step times, in order (set in main)

    def bare_loop(self, n_rollout_steps: int) -> None:
        """``rollout_designs.async_loop``: forward, send, recv, nothing else, on ``setup_gap``'s second env (the stale
        mode's, unused here), so the gap mode's halves stay in order."""
        caller_threads = th.get_num_threads()
        th.set_num_threads(1)
        venv, forward, obs = self.halves_env, self._half_forward, self.halves_a
        stamps = np.empty(2 * n_rollout_steps + 1)
        stamps[0] = time.perf_counter()
        for i in range(2 * n_rollout_steps):
            venv.send(forward(obs)[0])
            obs = venv.recv()[0]
            stamps[i + 1] = time.perf_counter()
        self.halves_a = obs
        self.bare_steps.append(np.diff(stamps))
        th.set_num_threads(caller_threads)

    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps):
        if not self.bare_on:
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        callback.on_rollout_start()
        self.bare_loop(n_rollout_steps)
        self.num_timesteps += n_rollout_steps * 2 * HALF
        callback.on_rollout_end()
        return True  # the buffer keeps a gap rollout of the warm-up, for the update


def main() -> None:
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0, lanes=2, terminal_on_life_loss=False)
    model = BareOrGapPPOG("CnnPolicy", env, channels_last=True, seed=0, **ZOO_ATARI)
    model.setup_gap(seed=100)
    model.bare_steps = []
    modes = ("gap", "gap_lean", "bare")
    buffers = {mode: copy.deepcopy(model.rollout_buffer) for mode in modes}
    phases = _time_phases(model)

    def switch(mode: str) -> None:
        model.rollout_buffer = buffers[mode]
        model.gap_on, model.lean, model.bare_on = mode.startswith("gap"), mode == "gap_lean", mode == "bare"

    for mode in ("gap", "gap_lean"):  # warm-up: a cycle of each; the gap buffer, full, is what the bare mode trains on
        switch(mode)
        model.learn(1024, reset_num_timesteps=False)
    buffers["bare"] = copy.deepcopy(buffers["gap"])
    switch("bare")
    model.learn(1024, reset_num_timesteps=False)
    model.bare_steps.clear()  # the warm-up's
    bound_env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=50, lanes=2, terminal_on_life_loss=False)
    bound_env.reset()
    cycle_bounds: list[float] = []
    alone: list[float] = []
    alone_steps: list[np.ndarray] = []

    def switch_and_bound(mode: str) -> None:
        if mode == modes[0]:
            cycle_bounds.append(bound_once(model, bound_env))
            for _ in range(3):  # bare_alone: back to back, the last timed
                start = time.perf_counter()
                model.bare_loop(model.n_steps)
            alone.append(time.perf_counter() - start)
            alone_steps.append(model.bare_steps[-1])
            del model.bare_steps[-3:]  # model.bare_steps: the cycles' bare rollouts only
        switch(mode)

    times = alternating_cycles(model, phases, modes, switch_and_bound, cycles)
    bound = float(np.mean(cycle_bounds))
    bounds = _bounds(model, "cpu")
    print(
        f"  bound per cycle (emulation + inference): mean {bound:.3f}, median {np.median(cycle_bounds):.3f}; "
        f"once at the end {bounds['emulation_s'] + bounds['inference_s']:.3f}"
    )
    print(
        f"  bare_alone: rollout {np.mean(alone):.3f} (median {np.median(alone):.3f}; bound {bound:.3f}, "
        f"{np.mean(alone) / bound - 1:+.0%})"
    )
    print(
        f"torch {th.__version__}, CPU capability {th.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores, "
        f"{cycles} cycles each, alternating; seconds per 1024 env-steps"
    )
    print_cycles(times, bound, bounds["arithmetic_s"], model)
    # the bare loop's half-steps in order: is what following an update costs spread over the rollout, or at its start?
    for name, runs in (("bare (after an update)", model.bare_steps), ("bare_alone", alone_steps)):
        mean = np.mean(runs, axis=0) * 1e3
        parts = ", ".join(f"{a}-{b} {mean[a:b].mean():.2f}" for a, b in ((0, 8), (8, 32), (32, 128), (128, 256)))
        print(f"  {name}: ms per half-step by half-step index: {parts}")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"  ({time.perf_counter() - start:.0f} s)")

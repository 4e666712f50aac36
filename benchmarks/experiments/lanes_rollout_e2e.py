"""(An investigation's script, kept with the log it produced; not a feature of the package.)
Independent lanes inside PPOG's training, end to end: does the bare loops' gain (``independent_lanes_bare.py``)
survive SB3's rollout buffer, callbacks and the update?

    python benchmarks/experiments/lanes_rollout_e2e.py [CYCLES]

PPOG, zoo Atari settings, Space Invaders on the fast path (8 envs, fp32, channels-last, the default frame-once
buffer). Alternating cycle by cycle (one rollout of 1024 env-steps + one update each), two rollouts:

- ``default``: PPOG's own ``collect_rollouts`` (one 8-env env on 2 C++ threads, the forward passes on the rollout
  thread, torch on 2 threads);
- ``lanes``: a throwaway ``collect_rollouts``: 2 Python threads, each stepping its own 4-env ``AtariVecEnv`` (one C++
  thread, seeded so env ``i`` has the 8-env env's seed) with one torch thread and its own ``torch.Generator`` for
  the sampled actions, 128 steps without waiting for the other lane; then, on the main thread, each step's data into
  PPOG's rollout buffer, SB3's info buffer and the callbacks' ``on_step`` (after the rollout's last step), the last
  values and GAE. Not handled here (so not a feature): truncated episodes' bootstrap, exact resume, bf16.

Printed: rollout and update seconds per 1024 env-steps, each against its bound (``benchmarks/throughput.py``'s:
the adapter stepped alone + PPOG's forward passes alone; forward + backward alone), and the lanes' own part of a
lanes rollout (the threads' span, without the main thread's buffer and callback work after it).
Measured (2026-12-03, 2-core AMD AVX2, ``results/speed_check/independent_lanes_2026-12-03_amd-avx2.log``): rollout
5-9% faster than PPOG's own, 3-4% end to end; not kept (docs/speed.md).
"""

from __future__ import annotations

import copy
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch as th

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: throughput.py, rollout_profile.py
from rollout_profile import ZOO_ATARI, alternating_cycles, print_cycles  # noqa: E402
from throughput import _bounds, _time_phases  # noqa: E402

import ppog_sb3  # noqa: E402
from ppog_sb3 import PPOG  # noqa: E402

LANES = 2


def sample(policy, obs: th.Tensor, generator: th.Generator):
    """``categorical_forward`` (ppog_sb3.common.exact_resume) with the lane's generator for the draw."""
    features = policy.extract_features(obs)
    latent_pi, latent_vf = policy.mlp_extractor(features)
    values = policy.value_net(latent_vf)
    log_pmf = policy.action_net(latent_pi)
    log_pmf = log_pmf - log_pmf.logsumexp(dim=-1, keepdim=True)
    actions = th.multinomial(th.softmax(log_pmf, dim=-1), 1, True, generator=generator).squeeze(-1)
    return actions, values.flatten(), log_pmf.gather(-1, actions.unsqueeze(-1)).squeeze(-1)


class LanesPPOG(PPOG):
    lanes_on = False
    lane_seconds: list[float] = []  # the lanes' part of each lanes rollout (threads started to joined)

    def setup_lanes(self, seed: int) -> None:
        per_lane = self.n_envs // LANES
        self.lane_envs = [
            ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=per_lane, seed=seed + per_lane * i, num_threads=1)
            for i in range(LANES)
        ]
        self.lane_obs = [venv.reset() for venv in self.lane_envs]
        self.lane_starts = [np.ones(per_lane, dtype=bool) for _ in range(LANES)]
        self.lane_generators = [th.Generator().manual_seed(seed + i) for i in range(LANES)]

    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps):
        if not self.lanes_on:
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        callback.on_rollout_start()
        records: list[dict[str, list]] = [{} for _ in range(LANES)]

        def lane(index: int) -> None:
            th.set_num_threads(1)
            venv, generator = self.lane_envs[index], self.lane_generators[index]
            obs, starts = self.lane_obs[index], self.lane_starts[index]
            record: dict[str, list] = {
                key: [] for key in ("obs", "actions", "values", "log_probs", "rewards", "starts", "dones", "infos")
            }
            for _ in range(n_rollout_steps):
                with th.inference_mode():
                    actions, values, log_probs = sample(self.policy, self._model_input(th.as_tensor(obs)), generator)
                actions = actions.numpy()
                new_obs, rewards, dones, infos = venv.step(actions)
                for key, value in (("obs", obs), ("actions", actions), ("values", values), ("log_probs", log_probs),
                                   ("rewards", rewards), ("starts", starts), ("dones", dones), ("infos", infos)):  # fmt: skip
                    record[key].append(value)
                obs, starts = new_obs, dones
            self.lane_obs[index], self.lane_starts[index] = obs, starts
            records[index] = record

        started = time.perf_counter()
        threads = [threading.Thread(target=lane, args=(i,)) for i in range(LANES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        th.set_num_threads(2)
        self.lane_seconds.append(time.perf_counter() - started)

        def joined(key: str, step: int):
            parts = [record[key][step] for record in records]
            return th.cat(parts) if isinstance(parts[0], th.Tensor) else np.concatenate(parts)

        for step in range(n_rollout_steps):
            obs, dones = joined("obs", step), joined("dones", step)
            infos = [info for record in records for info in record["infos"][step]]
            self._check_rollout_observations(obs)
            self.num_timesteps += env.num_envs
            self._update_info_buffer(infos, dones)
            rollout_buffer.add(obs, joined("actions", step).reshape(-1, 1), joined("rewards", step),
                               joined("starts", step), joined("values", step), joined("log_probs", step))  # fmt: skip
        for _ in range(n_rollout_steps):
            callback.update_locals(locals())
            if not callback.on_step():
                return False
        # the lanes' own last observations (self._last_obs stays the 8-env env's, for the default rollout)
        last_obs, last_starts = np.concatenate(self.lane_obs), np.concatenate(self.lane_starts)
        with th.inference_mode():
            values = self.policy.predict_values(self._model_input(th.as_tensor(last_obs))).float()
        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=last_starts)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True


def main() -> None:
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0)
    model = LanesPPOG("CnnPolicy", env, channels_last=True, seed=0, **ZOO_ATARI)
    model.setup_lanes(seed=0)
    # each mode its own buffer: the frame-once buffer checks that each step's stacks continue the previous step's
    buffers = {"default": model.rollout_buffer, "lanes": copy.deepcopy(model.rollout_buffer)}
    phases = _time_phases(model)

    def switch(mode: str) -> None:
        model.lanes_on, model.rollout_buffer = mode == "lanes", buffers[mode]

    for mode in ("default", "lanes"):  # warm-up: a cycle of each
        switch(mode)
        model.learn(1024, reset_num_timesteps=False)
    times = alternating_cycles(model, phases, ("default", "lanes"), switch, cycles)
    bounds = _bounds(model, "cpu")
    bound = bounds["emulation_s"] + bounds["inference_s"]
    print(
        f"torch {th.__version__}, CPU capability {th.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores, "
        f"{cycles} cycles each, alternating; seconds per 1024 env-steps"
    )
    print_cycles(times, bound, bounds["arithmetic_s"], model)
    lanes_part = float(np.mean(model.lane_seconds[1:]))  # not the warm-up's
    print(f"  lanes' own part of a lanes rollout: {lanes_part:.3f} s ({lanes_part / bound - 1:+.0%} against the bound)")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"  ({time.perf_counter() - start:.0f} s)")

"""(An investigation's script, kept with the log it produced; not a feature of the package.)
Half batches inside PPOG's training, end to end: does the bare loop that reached the bound on 2 cores
(``rollout_designs.py``'s ``async1``: ale-py's envpool-style batches, one C++ thread emulating all 8 envs, half a
batch at a time, while the Python thread runs the other half's forward pass on one torch thread) keep its speed with
SB3's rollout buffer, callbacks and the update?

    python benchmarks/experiments/halves_rollout_e2e.py [CYCLES]

PPOG, zoo Atari settings, Space Invaders (8 envs, fp32, channels-last, the default frame-once buffer), alternating
cycle by cycle (one rollout of 1024 env-steps + one update each), three rollouts of the same model:

- ``default``: PPOG's own ``collect_rollouts``, ``rollout_thread=True`` (the 8-env env on 2 C++ threads);
- ``lanes``: ``rollout_thread="lanes"`` (2 lanes of 4 envs, a Python thread and a C++ thread each);
- ``halves``: a throwaway ``collect_rollouts``: one ``AtariVectorEnv`` of 8 envs with ``batch_size=4`` and one C++
  thread; half A's step is sent, B's result received, B's forward pass run while A emulates, B sent, A's result
  received, and so on; each step's 8 envs go into PPOG's buffer, SB3's info buffer and the callbacks' ``on_step`` as
  soon as both halves are in (no replay after the rollout). ale-py's ``send()`` steps the envs of the last
  ``recv()``, so one half is always in flight, across the update too: the first B row of each rollout has an action
  (and value, log-probability) of the policy before the update, 4 of 1024 samples. Not handled (so not a feature):
  truncated episodes' bootstrap, exact resume, the adapter's episode statistics; life losses are not episode ends for
  every mode here (``terminal_on_life_loss=False``), so the C++ env's own stacks are the adapter's.

Printed: rollout and update seconds per 1024 env-steps, each against ``benchmarks/throughput.py``'s bound (the
model's env stepped alone + PPOG's forward passes alone; forward + backward alone), the rollout's measured every cycle
on an env of its own. Measured 2026-12-04, 2-core AMD EPYC Zen 5 AVX512-BF16, 12 and 16 cycles
(``results/speed_check/halves_rollout_e2e_2026-12-04_amd-avx512bf16.log``): rollout ``halves`` 0.454 and 0.415 s,
``lanes`` 0.522 and 0.438, ``default`` 0.741 and 0.650, against bounds of 0.362 and 0.340 (+25% and +22% for the halves);
end to end the halves and the lanes equal (545.7 against 544.2, 579.8 against 576.4 env-steps/s).
"""

from __future__ import annotations

import copy
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch as th
from ale_py.vector_env import AtariVectorEnv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: throughput.py, rollout_profile.py
from rollout_profile import ZOO_ATARI, alternating_cycles, print_cycles  # noqa: E402
from throughput import _bounds, _time_phases  # noqa: E402

import ppog_sb3  # noqa: E402
from ppog_sb3 import PPOG  # noqa: E402
from ppog_sb3.common.exact_resume import categorical_forward  # noqa: E402

HALF = 4


class HalvesPPOG(PPOG):
    halves_on = False

    def setup_halves(self, seed: int) -> None:
        options = self.env.lanes[0].options  # the fast path's own options
        self.halves_env = AtariVectorEnv(
            options.game, 2 * HALF, batch_size=HALF, num_threads=1,
            max_num_frames_per_episode=options.max_num_frames_per_episode,
            repeat_action_probability=options.repeat_action_probability, full_action_space=options.full_action_space,
            autoreset_mode="SameStep", img_height=options.screen_size, img_width=options.screen_size, grayscale=True,
            stack_num=options.frame_stack, frameskip=options.frame_skip, maxpool=True, noop_max=options.noop_max,
            episodic_life=False, life_loss_info=False, reward_clipping=False, use_fire_reset=options.use_fire_reset,
        )  # fmt: skip
        # ale-py's send() steps the envs of the last recv(): the halves must alternate recv -> forward -> send, so
        # one half is always in flight. Between rollouts that is half B, with an action of the rollout before (its
        # forward pass kept as the first B row of the next rollout): 4 of 1024 samples an update old.
        self.halves_a, info = self.halves_env.reset(seed=seed)
        assert info["env_id"].tolist() == list(range(HALF))
        self.halves_env.send(np.zeros(HALF, dtype=np.int64))  # A; B's reset observation is queued
        obs_b, *_, info = self.halves_env.recv()
        assert info["env_id"].tolist() == list(range(HALF, 2 * HALF))
        self.halves_b = (obs_b, np.ones(HALF, dtype=bool), self._half_forward(obs_b))
        self.halves_env.send(self.halves_b[2][0])  # B in flight
        self.halves_a, *_, info = self.halves_env.recv()  # A's zero-action step: A in hand, the last received
        assert info["env_id"].tolist() == list(range(HALF))
        self.halves_a_starts = np.zeros(HALF, dtype=bool)
        self.halves_returns = np.zeros(2 * HALF)

    def _half_forward(self, obs: np.ndarray):
        with th.inference_mode():
            actions, values, log_probs = categorical_forward(self.policy, self._model_input(th.as_tensor(obs)))
        return actions.numpy(), values.float(), log_probs.float()

    def _receive(self, half: int):
        new_obs, raw, terminated, truncated, info = self.halves_env.recv()
        assert info["env_id"][0] == half * HALF, info["env_id"]
        dones = np.logical_or(terminated, truncated)
        rewards = np.sign(np.asarray(raw, dtype=np.float32))
        returns = self.halves_returns[half * HALF : (half + 1) * HALF]
        returns += raw
        infos = [{"lives": life, "raw_reward": r} for life, r in zip(info["lives"].tolist(), raw.tolist(), strict=True)]
        for i in np.flatnonzero(dones):
            infos[i]["episode"] = {"r": float(returns[i]), "l": 0, "t": 0.0}
            returns[i] = 0.0
        return new_obs, rewards, dones, infos

    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps):
        if not self.halves_on:
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        callback.on_rollout_start()
        caller_threads = th.get_num_threads()
        th.set_num_threads(1)
        venv = self.halves_env
        obs_a, starts_a = self.halves_a, self.halves_a_starts
        obs_b, starts_b, forward_b = self.halves_b  # B in flight
        for _ in range(n_rollout_steps):
            forward_a = self._half_forward(obs_a)
            venv.send(forward_a[0])  # A in flight; B's step comes back:
            new_b, rewards_b, dones_b, infos_b = self._receive(1)
            next_forward_b = self._half_forward(new_b)
            venv.send(next_forward_b[0])  # B in flight again; A's step comes back:
            new_a, rewards_a, dones_a, infos_a = self._receive(0)

            step_obs = np.concatenate([obs_a, obs_b])
            new_obs = np.concatenate([new_a, new_b])
            dones = np.concatenate([dones_a, dones_b])
            infos = infos_a + infos_b
            actions = np.concatenate([forward_a[0], forward_b[0]])
            values, log_probs = th.cat([forward_a[1], forward_b[1]]), th.cat([forward_a[2], forward_b[2]])
            self._check_rollout_observations(step_obs)
            self.num_timesteps += 2 * HALF
            self._update_info_buffer(infos, dones)
            rollout_buffer.add(
                step_obs, actions.reshape(-1, 1), np.concatenate([rewards_a, rewards_b]),
                np.concatenate([starts_a, starts_b]), values, log_probs,
            )  # fmt: skip
            obs_a, starts_a = new_a, dones_a
            obs_b, starts_b, forward_b = new_b, dones_b, next_forward_b
            callback.update_locals(locals())
            if not callback.on_step():
                th.set_num_threads(caller_threads)
                return False
        self.halves_a, self.halves_a_starts, self.halves_b = obs_a, starts_a, (obs_b, starts_b, forward_b)
        th.set_num_threads(caller_threads)
        with th.inference_mode():
            values_a = self.policy.predict_values(self._model_input(th.as_tensor(obs_a))).float()
        rollout_buffer.compute_returns_and_advantage(
            last_values=th.cat([values_a, forward_b[1]]), dones=np.concatenate([starts_a, starts_b])
        )
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True


def bound_once(model, env) -> float:
    """``throughput._bounds``' emulation + inference, on an env of the model's kind that is not the model's (its
    reset would break the frame-once buffer's continuity): measured every cycle, beside the rollouts."""
    actions = np.stack([env.action_space.sample() for _ in range(env.num_envs)])
    start = time.perf_counter()
    for _ in range(model.n_steps):
        env.step(actions)
    emulation = time.perf_counter() - start
    obs = model._model_input(th.as_tensor(env.reset()))
    with th.inference_mode():
        model._rollout_forward(obs)
        start = time.perf_counter()
        for _ in range(model.n_steps):
            model._rollout_forward(obs)
    return emulation + time.perf_counter() - start


def main() -> None:
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0, lanes=2, terminal_on_life_loss=False)
    model = HalvesPPOG("CnnPolicy", env, channels_last=True, seed=0, **ZOO_ATARI)
    model.setup_halves(seed=100)
    # each rollout its own buffer: the frame-once buffer checks that each step's stacks continue the previous step's
    buffers = {mode: copy.deepcopy(model.rollout_buffer) for mode in ("default", "lanes", "halves")}
    phases = _time_phases(model)

    def switch(mode: str) -> None:
        model.halves_on, model.rollout_buffer = mode == "halves", buffers[mode]
        model.rollout_thread = "lanes" if mode == "lanes" else True

    modes = ("default", "lanes", "halves")
    for mode in modes:  # warm-up: a cycle of each
        switch(mode)
        model.learn(1024, reset_num_timesteps=False)
    bound_env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=50, lanes=2, terminal_on_life_loss=False)
    bound_env.reset()
    cycle_bounds: list[float] = []

    def switch_and_bound(mode: str) -> None:
        if mode == modes[0]:  # once per cycle (the first mode of every other cycle is the last of the one before)
            cycle_bounds.append(bound_once(model, bound_env))
        switch(mode)

    times = alternating_cycles(model, phases, modes, switch_and_bound, cycles)
    switch("default")
    bounds = _bounds(model, "cpu")
    bound = float(np.mean(cycle_bounds))
    print(
        f"  bound per cycle (emulation + inference): mean {bound:.3f}, median {np.median(cycle_bounds):.3f}; "
        f"once at the end {bounds['emulation_s'] + bounds['inference_s']:.3f}"
    )
    print(
        f"torch {th.__version__}, CPU capability {th.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores, "
        f"{cycles} cycles each, alternating; seconds per 1024 env-steps"
    )
    print_cycles(times, bound, bounds["arithmetic_s"], model)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"  ({time.perf_counter() - start:.0f} s)")

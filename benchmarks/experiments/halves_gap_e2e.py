"""(An investigation's script, kept with the log it produced; not a feature of the package.)
Half batches without a stale sample: ``halves_rollout_e2e.py``'s rollout on ale-py's envpool-style batches (one
8-env C++ env, ``batch_size=4``, one C++ thread), with the half that is in flight across the update taking a *gap
step* instead of carrying an old action into the next rollout.

    python benchmarks/experiments/halves_gap_e2e.py [CYCLES]

ale-py's ``send()`` steps the envs of the last ``recv()``, so one half must be in flight across every update (if both
halves were received, only the last could ever be sent again). ``halves_rollout_e2e.py`` stores that half's action,
chosen by the policy before the update, as the first row of the next rollout (4 of 1024 samples an update old). Here
the in-flight action is the rollout's *own*: after its last step, the half received last (``h0``) is sent one more
action of the same policy, from the observation whose value bootstraps its GAE, and the other half's last step comes
back; the update runs while ``h0`` emulates that one step, whose transition is not stored (its reward counts in the
episode statistics). The next rollout starts with the roles swapped. Every stored sample is then the current policy's,
with its own value and log-probability, and each rollout costs 4 env steps that are not trained on (0.4% of 1028).

Each row of 8 envs goes to the buffer when its second half comes back (one half-step later), the callbacks' ``on_step``
with it. The per-step infos are built only for envs whose episode ended (the info buffer reads only those); the same
simplifications as ``halves_rollout_e2e.py`` otherwise (no truncation bootstrap, no exact resume, no life-loss ends).

Modes, alternating cycle by cycle on one model (rollout + update each): ``lanes`` (``rollout_thread="lanes"``),
``halves`` (``halves_rollout_e2e.py``'s, the stale half-step), ``gap`` (this one) and ``gap_lean`` (with
``lean_forward``); the bound every cycle, as there. Measured 2026-12-05, 2-core AMD EPYC Zen 5 AVX512-BF16, 10, 8 and
12 cycles (``results/speed_check/halves_gap_2026-12-05_amd-avx512bf16.log``): rollout ``gap`` +17%, +33%, +32% over
the bound, as fast as ``halves``, 5-11% faster than ``lanes``; ``gap_lean`` not faster; end to end within noise.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch as th
import torch.nn.functional as F
from stable_baselines3.common.utils import obs_as_tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/experiments/
from halves_rollout_e2e import HALF, HalvesPPOG, bound_once  # noqa: E402
from rollout_profile import ZOO_ATARI, alternating_cycles, print_cycles  # noqa: E402
from throughput import _bounds, _time_phases  # noqa: E402

import ppog_sb3  # noqa: E402
from ppog_sb3.common.exact_resume import categorical_forward  # noqa: E402


class GapPPOG(HalvesPPOG):
    gap_on = False
    lean = False  # the half-batch forward pass without nn.Module calls (lean_forward)

    def lean_forward(self, obs: np.ndarray, generator: th.Generator | None = None):
        """``categorical_forward(policy, channels_last_input(obs))`` for SB3's ``CnnPolicy`` (NatureCNN, shared
        extractor, no MLP layers), the same operations on the same tensors in the same order, but as functional
        calls: no ``nn.Module.__call__`` (17 per forward pass), no ``preprocess_obs`` dispatch."""
        cnn, fc = self.policy.features_extractor.cnn, self.policy.features_extractor.linear[0]
        x = th.from_numpy(obs).contiguous(memory_format=th.channels_last).float() / 255.0
        x = th.relu(F.conv2d(x, cnn[0].weight, cnn[0].bias, 4))
        x = th.relu(F.conv2d(x, cnn[2].weight, cnn[2].bias, 2))
        x = th.relu(F.conv2d(x, cnn[4].weight, cnn[4].bias, 1))
        latent = th.relu(F.linear(th.flatten(x, 1), fc.weight, fc.bias))
        values = F.linear(latent, self.policy.value_net.weight, self.policy.value_net.bias)
        logits = F.linear(latent, self.policy.action_net.weight, self.policy.action_net.bias)
        log_pmf = logits - logits.logsumexp(dim=-1, keepdim=True)
        actions = th.multinomial(th.softmax(log_pmf, dim=-1), 1, True, generator=generator).T.reshape(-1)
        log_prob = log_pmf.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        return actions, values, log_prob

    def check_lean(self, obs: np.ndarray) -> None:
        """The lean forward pass equals PPOG's (``torch.equal``: actions from the same random state, values,
        log-probabilities)."""
        with th.inference_mode():
            ours = self.lean_forward(obs, th.Generator().manual_seed(7))
            theirs = categorical_forward(
                self.policy, self._model_input(obs_as_tensor(obs, "cpu")), th.Generator().manual_seed(7)
            )
        assert all(th.equal(a, b) for a, b in zip(ours, theirs, strict=True)), "lean forward differs"

    def _half_forward(self, obs: np.ndarray):
        if not self.lean:
            return super()._half_forward(obs)
        with th.inference_mode():
            actions, values, log_probs = self.lean_forward(obs)
        return actions.numpy(), values, log_probs

    def setup_gap(self, seed: int) -> None:
        self.setup_halves(seed)  # A (0) in hand, the last received; B (1) in flight: its result is the first gap
        self.gap_env = self.halves_env
        self.gap_hand = 0
        self.gap_obs, self.gap_starts = self.halves_a, self.halves_a_starts
        self.gap_returns = np.zeros(2 * HALF)
        self.setup_halves(seed + 50)  # the stale mode's own env

    def _receive_lean(self, half: int):
        new_obs, raw, terminated, truncated, info = self.gap_env.recv()
        assert info["env_id"][0] == half * HALF, info["env_id"]
        dones = terminated | truncated
        returns = self.gap_returns[half * HALF : (half + 1) * HALF]
        returns += raw
        ended = None
        if dones.any():
            ended = {half * HALF + i: {"episode": {"r": float(returns[i]), "l": 0, "t": 0.0}} for i in np.flatnonzero(dones)}
            returns[dones] = 0.0
        return new_obs, np.sign(raw).astype(np.float32), dones, ended

    def _episode_stats(self, ended: dict | None) -> None:
        if ended:
            infos = [ended.get(i, {}) for i in range(2 * HALF)]
            self._update_info_buffer(infos, np.array([i in ended for i in range(2 * HALF)]))

    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps):
        if not self.gap_on:
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        callback.on_rollout_start()
        caller_threads = th.get_num_threads()
        th.set_num_threads(1)
        venv, forward = self.gap_env, self._half_forward
        h0, h1 = self.gap_hand, 1 - self.gap_hand
        s0, s1 = slice(h0 * HALF, (h0 + 1) * HALF), slice(h1 * HALF, (h1 + 1) * HALF)
        obs0, starts0 = self.gap_obs, self.gap_starts
        shape = obs0.shape[1:]
        # the row being filled: its h0 half is complete when h0 comes back, its h1 half one half-step later
        row_obs = np.empty((2 * HALF, *shape), dtype=obs0.dtype)
        row_actions = np.empty(2 * HALF, dtype=np.int64)
        row_rewards = np.empty(2 * HALF, dtype=np.float32)
        row_starts = np.empty(2 * HALF, dtype=bool)
        row_values = th.empty(2 * HALF, 1)
        row_log_probs = th.empty(2 * HALF)

        def add_row() -> bool:
            self.num_timesteps += 2 * HALF
            rollout_buffer.add(row_obs, row_actions.reshape(-1, 1), row_rewards, row_starts, row_values, row_log_probs)
            callback.update_locals(locals())
            return callback.on_step()

        for step in range(n_rollout_steps + 1):
            last = step == n_rollout_steps
            f0 = forward(obs0)
            venv.send(f0[0])  # h0 in flight (after the last row: its gap step)
            new1, rewards1, dones1, ended1 = self._receive_lean(h1)
            self._episode_stats(ended1)
            if step > 0:  # h1's half of the row before is complete: store it
                row_rewards[s1] = rewards1
                if not add_row():
                    th.set_num_threads(caller_threads)
                    return False
            # (step 0: the gap step of the rollout before, not stored)
            obs1, starts1 = new1, dones1
            if last:
                break
            row_obs[s0], row_actions[s0], row_starts[s0] = obs0, f0[0], starts0
            row_values[s0], row_log_probs[s0] = f0[1], f0[2]
            f1 = forward(obs1)
            venv.send(f1[0])  # h1 in flight
            row_obs[s1], row_actions[s1], row_starts[s1] = obs1, f1[0], starts1
            row_values[s1], row_log_probs[s1] = f1[1], f1[2]
            new0, rewards0, dones0, ended0 = self._receive_lean(h0)
            self._episode_stats(ended0)
            row_rewards[s0] = rewards0
            obs0, starts0 = new0, dones0
        th.set_num_threads(caller_threads)
        # h0's bootstrap: the value of the forward pass that chose its gap action; h1's: its last observation
        with th.inference_mode():
            values1 = self.policy.predict_values(self._model_input(th.as_tensor(obs1))).float()
        last_values = th.empty(2 * HALF, 1)
        last_values[s0], last_values[s1] = f0[1], values1
        dones = np.empty(2 * HALF, dtype=bool)
        dones[s0], dones[s1] = starts0, starts1
        rollout_buffer.compute_returns_and_advantage(last_values=last_values, dones=dones)
        self.gap_hand, self.gap_obs, self.gap_starts = h1, obs1, starts1  # h1 in hand, h0 in flight
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True


def main() -> None:
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0, lanes=2, terminal_on_life_loss=False)
    model = GapPPOG("CnnPolicy", env, channels_last=True, seed=0, **ZOO_ATARI)
    model.setup_gap(seed=100)
    model.check_lean(model.gap_obs)
    modes = ("lanes", "halves", "gap", "gap_lean")
    buffers = {mode: copy.deepcopy(model.rollout_buffer) for mode in modes}
    phases = _time_phases(model)

    def switch(mode: str) -> None:
        model.rollout_buffer = buffers[mode]
        model.halves_on, model.gap_on, model.lean = mode == "halves", mode.startswith("gap"), mode == "gap_lean"
        model.rollout_thread = "lanes" if mode == "lanes" else True

    for mode in modes:  # warm-up: a cycle of each
        switch(mode)
        model.learn(1024, reset_num_timesteps=False)
    bound_env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=50, lanes=2, terminal_on_life_loss=False)
    bound_env.reset()
    cycle_bounds: list[float] = []

    def switch_and_bound(mode: str) -> None:
        if mode == modes[0]:
            cycle_bounds.append(bound_once(model, bound_env))
        switch(mode)

    times = alternating_cycles(model, phases, modes, switch_and_bound, cycles)
    switch("lanes")
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

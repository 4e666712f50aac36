"""(An investigation's script, kept with the log it produced; the maintained profile is ``benchmarks/rollout_profile.py``.)
Independent lanes, bare: can a rollout on 2 cores reach emulation + inference alone if no step hands a core over?

    python benchmarks/experiments/independent_lanes_bare.py [ROUNDS]

Alternating, per round, seconds per 1024 env-steps (256 batch steps of 8 envs, greedy actions, Space Invaders,
NatureCNN in channels-last with a 6-action head):

- ``sync``: the fast path's loop, one 8-env ale-py env on 2 C++ threads, torch on 2 threads: every step hands both
  cores from torch's OpenMP team to ale-py's workers and back;
- ``lanes``: 2 Python threads, each with its own 4-env ale-py env on 1 C++ thread and 1 torch thread, each running its
  256 steps without waiting for the other (torch and ale-py's ``recv`` release the GIL): a lane's only hand-over is
  between itself and its own C++ worker, which the scheduler can keep on one core;
- ``bound``: the raw 8-env env stepped alone with random actions + the batch-8 forward pass alone, back to back.

``--adapter``: the same three with what PPOG's rollout adds around them: the fast path's ``AtariVecEnv`` (its Python
``step``: info dicts, episode bookkeeping) instead of ale-py's raw env, SB3's ``ActorCriticCnnPolicy`` through PPOG's
``categorical_forward`` (a sampled action, its log-probability and the value) in channels-last, and each step's
observations, actions, values and log-probabilities copied into preallocated rollout arrays (a lane into its half).

Measured (2026-12-03, 2-core AMD AVX2, ``results/speed_check/independent_lanes_2026-12-03_amd-avx2.log``): lanes
25-35% faster than sync in every run, -4%, -1% and +26% against the bound in three runs.

What it cannot show: a rollout of SB3's loop (callbacks, the buffer, one sample over the whole batch); this only
says whether the hand-over, not the work, is what stands between the rollout and its bound on this machine.
"""

from __future__ import annotations

import sys
import threading
import time

import bare_rollout_loops  # benchmarks/experiments/, beside this file: the raw env and the greedy NatureCNN
import gymnasium as gym
import numpy as np
import torch as th

STEPS, WARMUP = 256, 20
ADAPTER = "--adapter" in sys.argv


class Adapter:
    """The fast path's ``AtariVecEnv`` behind the raw env's ``send``/``recv`` (as the loops here call it), with a
    rollout's copies of each step into preallocated arrays."""

    def __init__(self, num_envs: int, num_threads: int, seed: int) -> None:
        from ppog_sb3.envs import make_atari_vec_env

        self.venv = make_atari_vec_env("SpaceInvaders", n_envs=num_envs, seed=seed, num_threads=num_threads)
        self.obs = self.venv.reset()
        self.store = {"obs": np.zeros((STEPS + WARMUP, *self.obs.shape), np.uint8),
                      "actions": np.zeros((STEPS + WARMUP, num_envs), np.int64),
                      "rewards": np.zeros((STEPS + WARMUP, num_envs), np.float32)}  # fmt: skip
        self.t = 0

    def send(self, actions: np.ndarray) -> None:
        self.store["obs"][self.t] = self.obs
        self.store["actions"][self.t] = actions
        self.venv.step_async(actions)

    def recv(self) -> tuple[np.ndarray]:
        self.obs, rewards, _, _ = self.venv.step_wait()
        self.store["rewards"][self.t] = rewards
        self.t = (self.t + 1) % (STEPS + WARMUP)
        return (self.obs,)

    def close(self) -> None:
        self.venv.close()


def make_env(num_envs: int, num_threads: int, seed: int, raw: bool = False):
    if ADAPTER and not raw:
        env = Adapter(num_envs, num_threads, seed)
        return env, env.obs
    env = bare_rollout_loops.make_env(num_envs, num_threads)
    return env, env.reset(seed=seed)[0]


def make_policy():
    if ADAPTER:
        from stable_baselines3.common.policies import ActorCriticCnnPolicy

        from ppog_sb3.common.exact_resume import categorical_forward

        policy = ActorCriticCnnPolicy(
            gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), gym.spaces.Discrete(6), lambda _: 2.5e-4
        ).to(memory_format=th.channels_last)
        policy.set_training_mode(False)

        def act_policy(obs: np.ndarray) -> np.ndarray:
            with th.inference_mode():
                x = th.as_tensor(obs).contiguous(memory_format=th.channels_last)
                actions, values, log_probs = categorical_forward(policy, x)
                values.float(), log_probs.float()
                return actions.numpy().astype(np.int32)

        return act_policy
    return bare_rollout_loops.greedy_nature_cnn()


def per_1024(seconds: float, env_steps: int) -> float:
    return seconds * 1024 / env_steps


def sync(act) -> float:
    th.set_num_threads(2)
    env, obs = make_env(8, 2, 0)
    for i in range(WARMUP + STEPS):
        if i == WARMUP:
            start = time.perf_counter()
        env.send(act(obs))
        obs = env.recv()[0]
    seconds = time.perf_counter() - start
    env.close()
    return per_1024(seconds, 8 * STEPS)


def lanes(act) -> float:
    envs = [make_env(4, 1, seed) for seed in (0, 1)]
    ready = threading.Barrier(3)
    done: list[float] = []

    def lane(index: int) -> None:
        th.set_num_threads(1)  # this thread's OpenMP team: itself only
        env, obs = envs[index]
        for _ in range(WARMUP):
            env.send(act(obs))
            obs = env.recv()[0]
        ready.wait()
        for _ in range(STEPS):
            env.send(act(obs))
            obs = env.recv()[0]
        done.append(time.perf_counter())

    threads = [threading.Thread(target=lane, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    for env, _ in envs:
        env.close()
    th.set_num_threads(2)
    return per_1024(max(done) - start, 8 * STEPS)


def bound(act) -> float:
    th.set_num_threads(2)
    env, obs = make_env(8, 2, 0, raw=True)  # the bound is the raw env's, with or without --adapter
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 6, size=(WARMUP + STEPS, 8), dtype=np.int32)
    for i in range(WARMUP + STEPS):
        if i == WARMUP:
            start = time.perf_counter()
        env.send(actions[i])
        obs = env.recv()[0]
    emulation = time.perf_counter() - start
    env.close()
    for i in range(WARMUP + STEPS):
        if i == WARMUP:
            start = time.perf_counter()
        act(obs)
    inference = time.perf_counter() - start
    return per_1024(emulation + inference, 8 * STEPS)


def main() -> None:
    numbers = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    rounds = int(numbers[0]) if numbers else 3
    act = make_policy()
    what = "AtariVecEnv + SB3 policy + rollout copies" if ADAPTER else "raw ale-py env + NatureCNN"
    print(f"torch {th.__version__}, CPU capability {th.backends.cpu.get_cpu_capability()}, {what}, seconds per 1024 env-steps")
    order = [("sync", sync), ("lanes", lanes), ("bound", bound)]
    totals: dict[str, list[float]] = {name: [] for name, _ in order}
    for r in range(rounds):
        for name, measure in order if r % 2 == 0 else order[::-1]:
            totals[name].append(measure(act))
        print(f"round {r + 1}: " + "  ".join(f"{name} {totals[name][-1]:.3f}" for name, _ in order), flush=True)
    mean = {name: float(np.mean(values)) for name, values in totals.items()}
    print("mean: " + "  ".join(f"{name} {mean[name]:.3f}" for name, _ in order))
    print(f"over the bound: sync {mean['sync'] / mean['bound'] - 1:+.0%}, lanes {mean['lanes'] / mean['bound'] - 1:+.0%}")


if __name__ == "__main__":
    main()

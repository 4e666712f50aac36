"""Env-steps/s of Space Invaders: SB3's make_atari_env + VecFrameStack(4) (DummyVecEnv, SubprocVecEnv) vs the fast path,
and the fast path's SB3 ``VecEnv`` adapter vs the raw ale-py ``AtariVectorEnv`` it drives.

    python benchmarks/env_throughput.py                      # 8 envs, 3 rounds x 500 steps per path
    python benchmarks/env_throughput.py --rounds 5 --steps 1000 --n-envs 8
    python benchmarks/env_throughput.py --paths fast raw --rounds 6 --steps 2000   # the adapter's cost alone

Paths: ``sb3-dummy`` / ``sb3-subproc`` (SB3's pipeline), ``fast`` (``make_atari_vec_env``: the adapter's
``step()``, as SB3's ``collect_rollouts`` calls it), ``fast-lanes`` (the same env built in 2 lanes, ``lanes=2``,
stepped through its ``VecEnv.step()``: what SB3's PPO, ``rollout_thread=False`` and ``throughput.py``'s bound see of
a laned env, not how PPOG's lanes rollout steps it), ``raw`` (the fast path's own C++ env, the same instance when both
run, stepped through ale-py's own ``AtariVectorEnv.step()``: everything the adapter adds is missing, i.e. the bound of
the ``fast`` path). The vec envs are built once and stepped with the same uniformly random actions in alternating
rounds (Dummy, Subproc, fast, raw, then the reverse order...), so slow drifts of a shared machine's load hit all alike.
An env-step is one agent step of one env (4 emulator frames). The summary uses each path's total steps / total time
over the rounds, and also gives the CPU time each path used per env-step (all threads and worker processes), which
depends much less on what else runs on the machine than the wall-clock rate does.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import time

import numpy as np


def _make_sb3_base_env(env_id: str, **kwargs):
    """``gym.make`` for SB3's make_atari_env, importable in SubprocVecEnv workers (which have not imported ale_py)."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    return gym.make(env_id, **kwargs)


PATHS = ("sb3-dummy", "sb3-subproc", "fast", "fast-lanes", "raw")


class _Raw:
    """The ``raw`` path: ale-py's ``AtariVectorEnv`` inside an adapter, stepped through its own ``step()``."""

    def __init__(self, adapter) -> None:
        self.adapter, self.action_space = adapter, adapter.action_space

    def reset(self):
        return self.adapter.reset()  # the adapter's reset (its seeds); a raw step after it is a plain send + recv

    def step(self, actions):
        return self.adapter._vec.step(actions)

    def close(self) -> None:
        self.adapter.close()  # closing twice (fast and raw share it) is a no-op


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of this process (all its threads) and of the given child processes (Linux /proc)."""
    total = time.process_time()
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="SpaceInvaders", help="ALE game (default: SpaceInvaders)")
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=500, help="vec-env steps per path per round (x n_envs env-steps)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--num-threads", type=int, default=None, help="C++ worker threads of the fast path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS, help="which paths to step")
    args = parser.parse_args()

    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecFrameStack

    from ppog_sb3.envs import make_atari_vec_env, resolve_game
    from ppog_sb3.envs.games import rom_id_to_name

    sb3_id = f"{rom_id_to_name(resolve_game(args.game))}NoFrameskip-v4"
    sb3_env = functools.partial(_make_sb3_base_env, sb3_id)
    n, seed = args.n_envs, args.seed
    builders = {
        "sb3-dummy": lambda: VecFrameStack(make_atari_env(sb3_env, n_envs=n, seed=seed, vec_env_cls=DummyVecEnv), 4),
        "sb3-subproc": lambda: VecFrameStack(make_atari_env(sb3_env, n_envs=n, seed=seed, vec_env_cls=SubprocVecEnv), 4),
        "fast": lambda: make_atari_vec_env(args.game, n_envs=n, seed=seed, num_threads=args.num_threads),
        "fast-lanes": lambda: make_atari_vec_env(args.game, n_envs=n, seed=seed, num_threads=args.num_threads, lanes=2),
    }
    venvs = {name: builders[name]() for name in args.paths if name != "raw"}
    if "raw" in args.paths:  # the fast path's own C++ env when both run: same emulators, same threads, one pool
        fast = venvs.get("fast") or make_atari_vec_env(args.game, n_envs=n, seed=seed, num_threads=args.num_threads)
        venvs["raw"] = _Raw(fast)
    n_actions = next(iter(venvs.values())).action_space.n
    rng = np.random.default_rng(args.seed)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"{args.game}, {args.n_envs} envs, {args.rounds} rounds x {args.steps} steps per path"
    )
    for venv in venvs.values():  # warm-up: reset and a few steps (also starts the subprocesses' envs)
        venv.reset()
        for _ in range(20):
            venv.step(rng.integers(0, n_actions, args.n_envs))

    worker_pids = [process.pid for process in venvs["sb3-subproc"].venv.processes] if "sb3-subproc" in venvs else []
    times = {name: [] for name in venvs}
    cpu = dict.fromkeys(venvs, 0.0)
    for round_ in range(args.rounds):
        actions = rng.integers(0, n_actions, size=(args.steps, args.n_envs))
        line = []
        order = list(venvs.items()) if round_ % 2 == 0 else list(reversed(venvs.items()))
        for name, venv in order:
            cpu_start = _cpu_seconds(worker_pids)
            start = time.perf_counter()
            for a in actions:
                venv.step(a)
            elapsed = time.perf_counter() - start
            cpu[name] += _cpu_seconds(worker_pids) - cpu_start
            times[name].append(elapsed)
            line.append(f"{name} {args.steps * args.n_envs / elapsed:8.0f}")
        print(f"round {round_ + 1}: " + "  ".join(line) + "  env-steps/s")

    rate = {name: args.rounds * args.steps * args.n_envs / sum(t) for name, t in times.items()}
    print()
    n_steps = args.rounds * args.steps * args.n_envs
    for name, value in rate.items():
        print(f"{name:12s} {value:8.0f} env-steps/s   {1e6 * cpu[name] / n_steps:6.0f} CPU-us per env-step")
    for a, b in (("fast", "sb3-dummy"), ("fast", "sb3-subproc"), ("fast", "raw")):
        if a in rate and b in rate:
            print(f"{a} / {b:11s} = {rate[a] / rate[b]:.2f}x")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    for venv in venvs.values():
        venv.close()


if __name__ == "__main__":
    main()

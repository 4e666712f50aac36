"""Soak run: PPOG trains Space Invaders on the fast path for a fixed wall-clock time and reports, per window,
env-steps/s and resident memory, to show there is no upward memory drift and no slowdown over a long run.

    python benchmarks/soak.py --minutes 30                 # the issue's soak: 30 minutes, report every 60 s
    python benchmarks/soak.py --minutes 2 --window 20      # a quick look

Settings: the fast-path section of zoo_configs/ppog.yml (8 envs x 128 steps, 4 epochs, batch 256, precision auto,
channels_last), with constant learning rate and clip range (a soak has no fixed budget for the lin_ schedules).
A callback samples the process's RSS every rollout; the summary compares the first and the last windows.
"""

from __future__ import annotations

import argparse
import resource
import time

import psutil
from stable_baselines3.common.callbacks import BaseCallback
from throughput import N_ENVS, ZOO_ATARI  # the same zoo Atari settings as the throughput benchmark

import ppog_sb3
from ppog_sb3 import PPOG


class SoakMonitor(BaseCallback):
    def __init__(self, minutes: float, window: float):
        super().__init__()
        self.deadline = time.perf_counter() + 60 * minutes
        self.window = window
        self.process = psutil.Process()
        self.rows: list[tuple[float, float, float, float]] = []  # elapsed s, steps/s, rss MiB, peak rss MiB

    def _on_training_start(self) -> None:
        self.start = self.window_start = time.perf_counter()
        self.window_steps = self.num_timesteps

    def _on_step(self) -> bool:
        return time.perf_counter() < self.deadline

    def _on_rollout_end(self) -> None:
        now = time.perf_counter()
        if now - self.window_start >= self.window:
            rate = (self.num_timesteps - self.window_steps) / (now - self.window_start)
            rss = self.process.memory_info().rss / 2**20
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            self.rows.append((now - self.start, rate, rss, peak))
            print(
                f"{now - self.start:7.0f} s  {self.num_timesteps:9d} steps  {rate:7.1f} env-steps/s  "
                f"RSS {rss:7.1f} MiB  peak {peak:7.1f} MiB",
                flush=True,
            )
            self.window_start, self.window_steps = now, self.num_timesteps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--window", type=float, default=60.0, help="seconds per reported window")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=N_ENVS, seed=0)
    model = PPOG(
        "CnnPolicy",
        env,
        ent_coef_decay=0.9997,
        ent_coef_min=0.001,
        precision="auto",
        channels_last=True,
        seed=0,
        device=args.device,
        **ZOO_ATARI,
    )
    monitor = SoakMonitor(args.minutes, args.window)
    model.learn(10**12, callback=monitor)
    rows = monitor.rows
    if len(rows) < 2:
        print("too short for a summary: raise --minutes or lower --window")
        return
    first, last = rows[0], rows[-1]
    third = max(1, len(rows) // 3)
    early = sum(r[1] for r in rows[:third]) / third
    late = sum(r[1] for r in rows[-third:]) / third
    print(f"\nsummary over {last[0] / 60:.1f} min, {model.num_timesteps} env-steps, {len(rows)} windows")
    print(f"  env-steps/s: first third {early:.1f}, last third {late:.1f} (ratio last/first {late / early:.3f})")
    print(
        f"  RSS: first window {first[2]:.1f} MiB, last window {last[2]:.1f} MiB (change {last[2] - first[2]:+.1f} MiB); "
        f"peak {last[3]:.1f} MiB"
    )
    env.close()


if __name__ == "__main__":
    main()

"""cProfile of PPOG's rollout on the fast path (zoo Atari settings, Space Invaders, 8 envs x 128 steps, channels-last,
fp32): where its time goes beside the bare loop's (``split_inference_bare.py``).

    python benchmarks/experiments/profile_rollout.py [--rollout-thread true|false]

cProfile sees the main thread only: with the worker thread, its forward passes show as the main thread's waits
(``acquire`` of ``_thread.lock``). Results: ``results/speed_check/rollout_lanes_2026-12-03_amd-avx2.log``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

from stable_baselines3.common.callbacks import CallbackList

import ppog_sb3
from ppog_sb3 import PPOG

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rollout_profile import ZOO_ATARI  # noqa: E402  (benchmarks/rollout_profile.py: the same settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rollout-thread", choices=("true", "false"), default="true")
    args = parser.parse_args()
    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0)
    model = PPOG("CnnPolicy", env, channels_last=True, seed=0, rollout_thread=args.rollout_thread == "true", **ZOO_ATARI)
    model.learn(1024)  # warm-up: one rollout and update
    callback = CallbackList([])
    callback.init_callback(model)

    def rollout() -> None:
        model.rollout_buffer.reset()
        model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)

    start = time.perf_counter()
    rollout()
    rollout()
    print(f"rollout without the profiler: {(time.perf_counter() - start) / 2:.3f} s per 1024 env-steps")
    profile = cProfile.Profile()
    profile.enable()
    rollout()
    rollout()
    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()

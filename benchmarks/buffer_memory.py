"""Rollout-buffer memory of SB3 PPO and PPOG (its default buffer, and FrameStackRolloutBuffer), 4x84x84 Atari frames.

    python benchmarks/buffer_memory.py                           # 8x128 (zoo Atari), 16x128, 64x256 (GPU-sized)
    python benchmarks/buffer_memory.py --sizes 8x128 32x512

For the first size, each algorithm trains one real rollout on the fast ALE path (ppog/SpaceInvaders-v5), so the
arrays hold real frames; every size prints the bytes held by each buffer's arrays (observations, actions, rewards,
values, ...) and the ratio to SB3's. Bytes, not a timing: the same on every machine.
"""

from __future__ import annotations

import argparse

import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer

import ppog_sb3
from ppog_sb3 import PPOG
from ppog_sb3.common.buffers import PPOGRolloutBuffer, rollout_buffer_nbytes
from ppog_sb3.common.frame_buffer import FrameStackRolloutBuffer

BUFFERS = {
    "SB3 PPO (RolloutBuffer)": (RolloutBuffer, {}),
    "PPOG default (PPOGRolloutBuffer)": (PPOGRolloutBuffer, {}),
    "PPOG FrameStackRolloutBuffer": (FrameStackRolloutBuffer, {"frame_stack": 4}),
}


def _size(text: str) -> tuple[int, int]:
    n_envs, _, n_steps = text.partition("x")
    return int(n_envs), int(n_steps)


def _trained(n_envs: int, n_steps: int) -> dict[str, int]:
    sizes = {}
    for name, (buffer_class, kwargs) in BUFFERS.items():
        env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=n_envs, seed=0)
        algo, extra = (PPO, {}) if buffer_class is RolloutBuffer else (PPOG, {"rollout_buffer_kwargs": kwargs})
        model = algo(
            "CnnPolicy", env, n_steps=n_steps, batch_size=256, n_epochs=1, seed=0, device="cpu",
            rollout_buffer_class=buffer_class, **extra,
        )  # fmt: skip
        model.learn(n_steps * n_envs)  # one rollout, so the arrays hold real frames
        sizes[name] = rollout_buffer_nbytes(model.rollout_buffer)
        env.close()
    return sizes


def _allocated(n_envs: int, n_steps: int) -> dict[str, int]:
    space = spaces.Box(0, 255, (4, 84, 84), np.uint8)
    return {
        name: rollout_buffer_nbytes(buffer_class(n_steps, space, spaces.Discrete(6), device="cpu", n_envs=n_envs, **kwargs))
        for name, (buffer_class, kwargs) in BUFFERS.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=_size, default=[(8, 128), (16, 128), (64, 256)], help="ENVSxSTEPS ...")
    args = parser.parse_args()
    for index, (n_envs, n_steps) in enumerate(args.sizes):
        sizes = _trained(n_envs, n_steps) if index == 0 else _allocated(n_envs, n_steps)
        how = "after one real rollout" if index == 0 else "allocated"
        print(f"{n_envs} envs x {n_steps} steps ({how}):")
        reference = sizes["SB3 PPO (RolloutBuffer)"]
        for name, nbytes in sizes.items():
            print(f"  {name:34s} {nbytes / 2**20:9.2f} MiB   ratio to SB3 {nbytes / reference:.3f}")


if __name__ == "__main__":
    main()

"""Rollout-buffer memory of PPOG and SB3 PPO for the zoo's Atari settings (8 envs x 128 steps, 4x84x84 frames).

    python benchmarks/buffer_memory.py

Builds both algorithms on the same real ALE env (SB3's make_atari_env + VecFrameStack(4)), fills one rollout
each, and prints the bytes held by the buffers' arrays and their ratio.
"""

from __future__ import annotations

import argparse

import ale_py
import gymnasium as gym
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_atari_env
from stable_baselines3.common.vec_env import VecFrameStack

from ppog_sb3 import PPOG
from ppog_sb3.common.buffers import rollout_buffer_nbytes

gym.register_envs(ale_py)  # registers the ALE ids (SpaceInvadersNoFrameskip-v4, ...)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="SpaceInvadersNoFrameskip-v4")
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--n-steps", type=int, default=128)
    args = parser.parse_args()

    env = VecFrameStack(make_atari_env(args.env, n_envs=args.n_envs, seed=0), n_stack=4)
    sizes = {}
    for name, algo in (("SB3 PPO", PPO), ("PPOG", PPOG)):
        model = algo("CnnPolicy", env, n_steps=args.n_steps, batch_size=256, n_epochs=1, seed=0, device="cpu")
        model.learn(args.n_steps * args.n_envs)  # one rollout, so the arrays hold real frames
        sizes[name] = rollout_buffer_nbytes(model.rollout_buffer)
        obs = model.rollout_buffer.observations
        mib = sizes[name] / 2**20
        print(f"{name:8s} rollout buffer: {mib:8.2f} MiB (observations {obs.dtype}, {obs.nbytes / 2**20:.2f} MiB)")
    print(f"ratio PPOG / SB3 PPO: {sizes['PPOG'] / sizes['SB3 PPO']:.3f}")
    env.close()


if __name__ == "__main__":
    main()

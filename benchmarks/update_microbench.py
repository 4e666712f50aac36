"""The update's arithmetic alone: NatureCNN (SB3's CnnPolicy network with its policy and value heads) forward +
backward on one 256-frame uint8 minibatch, in samples/s, for each way of running it, alternating in one process.

    python benchmarks/update_microbench.py                       # fp32, channels_last, bf16 autocast, torch.compile
    python benchmarks/update_microbench.py --modes fp32 channels_last --seconds 10

This is the number the speed issue quotes (fp32 ~1.7k, channels_last ~2.8k, bf16 ~5.2k samples/s on an AVX512-BF16
CPU); it bounds what any PPO implementation can do in its update with the zoo's Atari settings. ``compile`` is
``torch.compile`` of the channels-last network (its compilation time is printed, not counted).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import NatureCNN

MODES = ("fp32", "channels_last", "bf16", "compile")


class Network(th.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = NatureCNN(spaces.Box(0, 255, (4, 84, 84), np.uint8), features_dim=512)
        self.policy = th.nn.Linear(512, 6)
        self.value = th.nn.Linear(512, 1)

    def forward(self, obs: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        latent = self.features(obs.float() / 255.0)
        return self.policy(latent), self.value(latent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--seconds", type=float, default=6.0, help="timed seconds per mode and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    th.manual_seed(0)
    frames = th.randint(0, 256, (args.batch_size, 4, 84, 84), dtype=th.uint8)
    runners = {}
    for mode in args.modes:
        network = Network()
        obs = frames
        if mode != "fp32":
            network = network.to(memory_format=th.channels_last)
            obs = frames.contiguous(memory_format=th.channels_last)
        if mode == "compile":
            network = th.compile(network)
        autocast = th.autocast("cpu", dtype=th.bfloat16, enabled=mode == "bf16")

        def step(network=network, obs=obs, autocast=autocast):
            with autocast:
                logits, values = network(obs)
            loss = logits.float().logsumexp(-1).mean() + values.float().pow(2).mean()
            loss.backward()

        start = time.perf_counter()
        step()
        step()
        if mode == "compile":
            print(f"compile: {time.perf_counter() - start:.1f} s of compilation")
        runners[mode] = step

    print(f"torch {th.__version__}, {th.get_num_threads()} threads, CPU capability {th.backends.cpu.get_cpu_capability()}")
    results: dict[str, list[float]] = {mode: [] for mode in runners}
    for round_index in range(args.rounds):
        order = list(runners) if round_index % 2 == 0 else list(reversed(runners))
        for mode in order:
            start, count = time.perf_counter(), 0
            while time.perf_counter() - start < args.seconds:
                runners[mode]()
                count += 1
            results[mode].append(args.batch_size * count / (time.perf_counter() - start))
            print(f"round {round_index + 1} {mode:14s} {results[mode][-1]:8.0f} samples/s", flush=True)
    print("\nsummary (mean over rounds, forward+backward samples/s; ratio to fp32)")
    for mode, values in results.items():
        ratio = f"   x{np.mean(values) / np.mean(results['fp32']):.2f}" if "fp32" in results else ""
        print(f"  {mode:14s} {np.mean(values):8.0f}{ratio}")


if __name__ == "__main__":
    main()

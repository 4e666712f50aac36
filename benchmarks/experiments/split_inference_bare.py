"""Bare rollout loops: one forward pass of the 8-env batch on torch's threads against "lanes" (one Python thread per
torch thread, each with one torch thread and a shard of the batch), each followed by ale-py's ``send``/``recv``.

    python benchmarks/experiments/split_inference_bare.py [rounds]

Printed per round, alternating the order: seconds per 1024 env-steps of each loop, and the bound (emulation alone +
whole-batch inference alone). Space Invaders, NatureCNN in channels-last with a 6-action head, greedy actions.
Results and the verdict (lanes not kept in PPOG): ``results/speed_check/rollout_lanes_2026-12-03_amd-avx2.log``; the
PPOG version of lanes is ``sharded_lanes.patch`` beside this file.
"""

from __future__ import annotations

import sys
import threading
import time

import gymnasium as gym
import numpy as np
import torch as th
from bare_rollout_loops import make_env  # benchmarks/experiments/, beside this file
from stable_baselines3.common.torch_layers import NatureCNN

STEPS = 256


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    threads = th.get_num_threads()
    net = NatureCNN(gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), 512).to(memory_format=th.channels_last)
    head = th.nn.Linear(512, 6)

    def logits(obs: np.ndarray) -> th.Tensor:
        with th.no_grad():
            x = th.as_tensor(obs).float().div_(255).contiguous(memory_format=th.channels_last)
            return head(net(x))

    class Lanes:
        def __init__(self, n: int) -> None:
            self.go = [threading.Semaphore(0) for _ in range(n)]
            self.done = threading.Semaphore(0)
            self.parts: list[np.ndarray] = []
            self.out: list[th.Tensor | None] = [None] * n
            self.stop = False
            ready = threading.Barrier(n + 1)
            self.threads = [threading.Thread(target=self.lane, args=(i, ready), daemon=True) for i in range(n)]
            for thread in self.threads:
                thread.start()
            ready.wait()
            th.set_num_threads(threads)  # torch's global count back; each lane keeps its own 1

        def lane(self, i: int, ready: threading.Barrier) -> None:
            th.get_num_threads()  # torch's first use in this thread reads the global count: before setting 1
            th.set_num_threads(1)
            ready.wait()
            while True:
                self.go[i].acquire()
                if self.stop:
                    return
                self.out[i] = logits(self.parts[i])
                self.done.release()

        def __call__(self, obs: np.ndarray) -> th.Tensor:
            self.parts = np.array_split(obs, len(self.go))
            for go in self.go:
                go.release()
            for _ in self.go:
                self.done.acquire()
            return th.cat(self.out)  # type: ignore[arg-type]

        def close(self) -> None:
            self.stop = True
            for go in self.go:
                go.release()

    def loop(forward) -> float:
        env = make_env(8, 2)
        obs = env.reset(seed=0)[0]
        for step in range(20 + STEPS):
            if step == 20:
                start = time.perf_counter()
            env.send(forward(obs).argmax(1).numpy().astype(np.int32))
            obs = env.recv()[0]
        return (time.perf_counter() - start) * 1024 / (8 * STEPS)

    def whole() -> float:
        return loop(logits)

    def lanes() -> float:
        forward = Lanes(threads)
        try:
            return loop(forward)
        finally:
            forward.close()

    def bound() -> tuple[float, float]:
        env = make_env(8, 2)
        env.reset(seed=0)
        actions = np.zeros(8, np.int32)
        start = time.perf_counter()
        for _ in range(STEPS):
            env.send(actions)
            env.recv()
        emulation = (time.perf_counter() - start) * 1024 / (8 * STEPS)
        obs = np.zeros((8, 4, 84, 84), np.uint8)
        logits(obs)
        start = time.perf_counter()
        for _ in range(STEPS):
            logits(obs)
        return emulation, (time.perf_counter() - start) * 1024 / (8 * STEPS)

    sample = np.random.default_rng(0).integers(0, 256, (8, 4, 84, 84), dtype=np.uint8)
    check = Lanes(threads)
    print(f"torch {th.__version__}, {th.backends.cpu.get_cpu_capability()}, {threads} torch threads; lanes' logits "
          f"equal to the whole batch's: {th.equal(check(sample), logits(sample))}")  # fmt: skip
    check.close()
    for index in range(rounds):
        first, second = (whole, lanes) if index % 2 == 0 else (lanes, whole)
        results = {first.__name__: first(), second.__name__: second()}
        emulation, inference = bound()
        print(
            f"round {index + 1}: whole {results['whole']:.3f}  lanes {results['lanes']:.3f}  bound "
            f"{emulation + inference:.3f} (emulation {emulation:.3f} + inference {inference:.3f}) s per 1024 env-steps",
            flush=True,
        )


if __name__ == "__main__":
    main()

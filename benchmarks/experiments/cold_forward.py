"""(An investigation's script, kept with the log it produced; not a feature of the package.)
What a forward pass costs when something else ran before it: the bound's inference (``throughput.py``'s
``inference_s``) times PPOG's rollout forward passes back to back, but in any rollout that steps the env between
them, each pass follows an env step of a few milliseconds. This times the same passes (PPOG's ``_rollout_forward``
on a batch of 8 Space Invaders observations, channels-last, fp32) each after:

- ``back to back``: nothing (the bound's inference);
- ``env step``: one step of the 8-env fast-path env, random actions (the rollout's pattern, the step not timed);
- ``spin``: a busy-wait as long as the median env step, in Python: no env, no memory traffic of ours, the core busy;
- ``sleep``: ``time.sleep`` as long: the core idle;
- ``spin + touch``: the busy-wait, then a read of every parameter of the network (not timed): which part of the
  extra cost is the parameters having left the caches.

and the same for the network's fully connected layer alone (3136 x 512 fp32 weights, 6.1 MiB: the largest block the
pass reads). Rounds alternate the modes; each mode's 128 passes are summed, i.e. seconds per rollout of 1024
env-steps, the bound's unit.

    python benchmarks/experiments/cold_forward.py [ROUNDS] [THREADS]

Measured 2026-12-07 on the 2-core AMD EPYC Zen 5 AVX512-BF16 kind
(``results/speed_check/cold_forward_2026-12-07_amd-avx512bf16.log``): see docs/speed.md, 2026-12-07.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch as th

import ppog_sb3
from ppog_sb3 import PPOG

PASSES = 128


def busy(seconds: float) -> None:
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        pass


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    if len(sys.argv) > 2:
        th.set_num_threads(int(sys.argv[2]))
    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0, terminal_on_life_loss=False)
    model = PPOG("CnnPolicy", env, n_steps=128, batch_size=256, channels_last=True, seed=0, rollout_thread=False)
    model.policy.set_training_mode(False)
    obs = model._model_input(th.as_tensor(env.reset()))
    rng = np.random.default_rng(0)
    fc = model.policy.features_extractor.linear
    with th.inference_mode():
        fc_input = th.flatten(model.policy.features_extractor.cnn(obs.float() / 255.0), 1)
    params = list(model.policy.parameters())

    def env_step() -> None:
        env.step(rng.integers(0, env.action_space.n, size=env.num_envs))

    step_s = []
    for _ in range(64):
        start = time.perf_counter()
        env_step()
        step_s.append(time.perf_counter() - start)
    gap = float(np.median(step_s))

    def touch() -> None:
        for p in params:
            p.sum()

    before = {
        "back to back": None,
        "env step": env_step,
        "spin": lambda: busy(gap),
        "sleep": lambda: time.sleep(gap),
        "spin + touch": lambda: (busy(gap), touch()),
    }
    passes = {"forward pass": lambda: model._rollout_forward(obs), "fc layer alone": lambda: fc(fc_input)}
    totals = {(p, b): [] for p in passes for b in before}
    with th.inference_mode():
        for fn in passes.values():
            for _ in range(20):
                fn()
        for r in range(rounds):
            order = list(before.items()) if r % 2 == 0 else list(reversed(before.items()))
            for pass_name, fn in passes.items():
                for name, pause in order:
                    total = 0.0
                    for _ in range(PASSES):
                        if pause is not None:
                            pause()
                        start = time.perf_counter()
                        fn()
                        total += time.perf_counter() - start
                    totals[(pass_name, name)].append(total)
    print(
        f"torch {th.__version__}, CPU capability {th.backends.cpu.get_cpu_capability()}, {th.get_num_threads()} torch "
        f"threads, {rounds} alternating rounds; median env step {gap * 1e3:.2f} ms; seconds per {PASSES} passes "
        f"(a rollout of 1024 env-steps), mean over rounds [min, max]"
    )
    for pass_name in passes:
        b2b = np.mean(totals[(pass_name, "back to back")])
        for name in before:
            t = np.array(totals[(pass_name, name)])
            print(
                f"  {pass_name:15s} after {name:13s}: {t.mean():.3f} s [{t.min():.3f}, {t.max():.3f}]"
                f"  {t.mean() / b2b:.2f}x back to back"
            )


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"  ({time.perf_counter() - start:.0f} s)")

"""Training throughput on Space Invaders: SB3 PPO (zoo Atari hyperparameters, make_atari_env + VecFrameStack(4))
against PPOG (same hyperparameters, its fast settings), in one run, alternating.

    python benchmarks/throughput.py                          # 3 rounds x 4 rollouts each (8 envs x 128 steps)
    python benchmarks/throughput.py --rounds 5 --rollouts 8 --device cuda
    python benchmarks/throughput.py --variants ppo ppog-fp32 ppog-fast   # add PPOG without the speed options

Each round trains every variant in its own fresh subprocess (so each peak RSS is its own): build the model, run one
untimed warm-up rollout + update, then time ``--rollouts`` rollouts + updates. The order of the variants alternates
between rounds so drifts of a shared machine's load hit all alike. Printed: env-steps/s per round, the mean of each
variant, the ratio to SB3 PPO, the peak resident memory of each process (and peak CUDA memory on a GPU), and where
the time goes: seconds per rollout (environment stepping + inference forward passes) and per update (``n_epochs``
passes of forward + backward + Adam over the rollout), each beside its bound measured in the same process with the
same settings (rollout: the env stepping alone + the inference forward passes alone; update: the forward + backward
passes alone, see ``_bounds``), so a ratio can be read against what each phase costs. Beside the rollout's bound,
the same forward passes each timed after an env step: what a loop that alternates the two on the same cores cannot
avoid (the cost of the hardware and of torch's threads, not of the loop's own code).

Variants:
  ppo        SB3 PPO, CnnPolicy, make_atari_env("SpaceInvadersNoFrameskip-v4") + VecFrameStack(4), DummyVecEnv
  ppog-fp32  PPOG, same env and settings as ppo (the algorithm alone: loss, buffer, inference-mode rollouts)
  ppog-fast  PPOG on the fast vectorized path (ppog_sb3.make_atari_vec_env) as zoo_configs/ppog.yml trains it:
             precision="fp32", channels_last=True, the fast path's default rollout buffer
  ppog-fast-stacks / ppog-fast-frames
             ppog-fast with the buffer forced: PPOGRolloutBuffer (each observation's 4-frame stack stored) or
             FrameStackRolloutBuffer (each frame stored once)
  ppog-fast-nothread
             ppog-fast with rollout_thread=False: the rollout's forward passes on the main thread (ppog-fast has the
             default "auto", a worker thread per rollout on a CPU with more than one torch thread)
  ppog-fast-lanes
             ppog-fast on the env in 2 lanes (make_atari_vec_env(..., lanes=2): two 4-env C++ envs of one thread
             each), which "auto" steps each on a thread of its own (ppog_sb3/common/lane_rollout.py; other random
             draws than ppog-fast, the same kind of data)
  minatar-ppo / minatar-ppog
             the MinAtar study's runs (zoo setting): SB3 PPO / PPOG on MinAtar Breakout, 8 envs in SB3's
             make_vec_env (DummyVecEnv + Monitor, as the zoo builds them), the MinAtar paper's network (MinAtarCNN,
             linear heads); run them with `--threads 1`, as the study trains (`ppog-zoo study run`: one torch thread
             per run). Ratios of minatar-* are to minatar-ppo.
  ppog-fast-fp32 / ppog-fast-bf16 / ppog-fast-auto
             ppog-fast with the precision forced (auto: bf16 where native; on a GPU:
             `--device cuda --variants ppo ppog-fast-fp32 ppog-fast-bf16`; forcing bf16 on a CPU without native bf16
             emulates it: much slower)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

ZOO_ATARI = dict(
    n_steps=128,
    n_epochs=4,
    batch_size=256,
    learning_rate=2.5e-4,
    clip_range=0.1,
    vf_coef=0.5,
    ent_coef=0.01,
)
N_ENVS = 8
VARIANTS = (
    "ppo",
    "ppog-fp32",
    "ppog-fast",
    "ppog-fast-stacks",
    "ppog-fast-frames",
    "ppog-fast-nothread",
    "ppog-fast-lanes",
    "ppog-fast-fp32",
    "ppog-fast-bf16",
    "ppog-fast-auto",
    "minatar-ppo",
    "minatar-ppog",
)
MINATAR_GAME = "MinAtar/Breakout-v1"


def _cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> str:
    """The vector-extension flags that decide the kernels (AVX2, AVX-512, BF16, AMX), from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next(line for line in cpuinfo if line.startswith("flags")).split(":", 1)[1].split()
    except (OSError, StopIteration):
        return "unknown"
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16")
    return " ".join(flag for flag in wanted if flag in flags) or "none of " + " ".join(wanted)


def _build(variant: str, device: str, seed: int):
    import ale_py
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    import ppog_sb3
    from ppog_sb3 import PPOG

    gym.register_envs(ale_py)
    if variant.startswith("minatar-"):
        from stable_baselines3.common.env_util import make_vec_env

        from ppog_sb3.common.extractors import MinAtarCNN

        minatar = make_vec_env(MINATAR_GAME, n_envs=N_ENVS, seed=seed)
        policy_kwargs = dict(features_extractor_class=MinAtarCNN, net_arch=[])
        cls = PPO if variant == "minatar-ppo" else PPOG
        return cls("MlpPolicy", minatar, policy_kwargs=policy_kwargs, seed=seed, device=device, **ZOO_ATARI)
    if variant.startswith("ppog-fast"):
        lanes = 2 if variant == "ppog-fast-lanes" else 1
        env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=N_ENVS, seed=seed, lanes=lanes)
        precision = {"ppog-fast-bf16": "bf16", "ppog-fast-auto": "auto"}.get(variant, "fp32")
        extra: dict = {}
        if variant == "ppog-fast-stacks":
            from ppog_sb3.common.buffers import PPOGRolloutBuffer

            extra = dict(rollout_buffer_class=PPOGRolloutBuffer)
        if variant == "ppog-fast-nothread":
            extra = dict(rollout_thread=False)
        if variant == "ppog-fast-frames":
            from ppog_sb3.common.frame_buffer import FrameStackRolloutBuffer

            extra = dict(rollout_buffer_class=FrameStackRolloutBuffer, rollout_buffer_kwargs={"frame_stack": 4})
        return PPOG("CnnPolicy", env, precision=precision, channels_last=True, seed=seed, device=device, **extra, **ZOO_ATARI)
    env = VecFrameStack(make_atari_env("SpaceInvadersNoFrameskip-v4", n_envs=N_ENVS, seed=seed), n_stack=4)
    if variant == "ppo":
        return PPO("CnnPolicy", env, seed=seed, device=device, **ZOO_ATARI)
    if variant == "ppog-fp32":
        return PPOG("CnnPolicy", env, seed=seed, device=device, **ZOO_ATARI)
    raise ValueError(f"Unknown variant {variant!r}: allowed values are {', '.join(VARIANTS)}.")


def time_method(totals: dict[str, float], owner, name: str, key: str) -> None:
    """Replace ``owner.name`` (an instance's method) by a wrapper that adds its wall time to ``totals[key]``."""
    method = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start

    setattr(owner, name, wrapper)


def _time_phases(model) -> dict[str, float]:
    """Wrap the model's ``collect_rollouts`` and ``train`` so their wall time adds up in the returned dict."""
    totals = {"collect": 0.0, "train": 0.0}
    time_method(totals, model, "collect_rollouts", "collect")
    time_method(totals, model, "train", "train")
    return totals


def _bounds(model, device: str) -> dict[str, float]:
    """What each phase's arithmetic alone costs, per rollout of ``n_steps * n_envs`` env-steps, in the same process
    and with the model's own settings (network, channels_last, precision):

    - ``emulation_s``: the env stepping with random actions, nothing else;
    - ``inference_s``: ``n_steps`` forward passes of an ``n_envs`` batch (the policy's actions and values; for PPOG
      its rollout's pass, ``_rollout_forward``), back to back;
    - ``inference_after_step_s``: the same passes, each after an env step (random actions, the step not timed), as
      every rollout that steps the env between its passes runs them. Not the loop's code: the passes are slower after
      anything else ran, even a busy-wait with no memory traffic (the network's state goes cold;
      ``benchmarks/experiments/cold_forward.py``, docs/speed.md 2026-12-07), so emulation + this is the rollout's bound
      for a loop that alternates env steps and forward passes on the same cores;
    - ``arithmetic_s``: forward + backward of ``n_epochs * n_steps * n_envs`` samples in ``batch_size`` minibatches
      through the policy network, with a fixed loss: the update without buffer, distribution objects, Adam, logging.
    """
    import numpy as np
    import torch as th

    env, policy = model.env, model.policy
    n_steps, n_envs, batch = model.n_steps, model.n_envs, model.batch_size
    autocast = model._autocast() if hasattr(model, "_autocast") else th.autocast(model.device.type, enabled=False)
    to_input = model._model_input if hasattr(model, "_model_input") else (lambda obs: obs)
    sync = th.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    env.reset()
    actions = np.stack([env.action_space.sample() for _ in range(n_envs)])
    start = time.perf_counter()
    for _ in range(n_steps):
        env.step(actions)
    emulation = time.perf_counter() - start

    obs = th.as_tensor(env.reset(), device=model.device)
    policy.set_training_mode(False)
    forward = model._rollout_forward if hasattr(model, "_rollout_forward") else policy  # PPOG's rollout pass
    with th.inference_mode(), autocast:
        forward(to_input(obs))  # warm-up
        sync()
        start = time.perf_counter()
        for _ in range(n_steps):
            forward(to_input(obs))
        sync()
    inference = time.perf_counter() - start
    with th.inference_mode(), autocast:
        inference_after_step = 0.0
        for _ in range(n_steps):
            stepped = th.as_tensor(env.step(actions)[0], device=model.device)
            sync()
            start = time.perf_counter()
            forward(to_input(stepped))
            sync()
            inference_after_step += time.perf_counter() - start

    policy.set_training_mode(True)
    frames = th.randint(0, 256, (batch, *model.observation_space.shape), dtype=th.uint8, device=model.device)
    minibatch = to_input(frames)
    taken = th.zeros(batch, dtype=th.long, device=model.device)
    n_minibatches = model.n_epochs * n_steps * n_envs // batch

    def step():
        with autocast:
            values, log_prob, entropy = policy.evaluate_actions(minibatch, taken)
        (values.float().pow(2).mean() - log_prob.float().mean() - entropy.float().mean()).backward()

    step()
    sync()
    start = time.perf_counter()
    for _ in range(n_minibatches):
        step()
    sync()
    arithmetic = time.perf_counter() - start
    policy.optimizer.zero_grad()
    return {
        "emulation_s": emulation,
        "inference_s": inference,
        "inference_after_step_s": inference_after_step,
        "arithmetic_s": arithmetic,
    }


def _worker(variant: str, rollouts: int, device: str, seed: int) -> None:
    """One timed measurement, printed as a JSON line."""
    import torch as th

    model = _build(variant, device, seed)
    phases = _time_phases(model)
    steps_per_rollout = model.n_steps * model.n_envs
    model.learn(steps_per_rollout)  # warm-up: allocations, oneDNN kernel selection, env start
    if device.startswith("cuda"):
        th.cuda.synchronize()
        th.cuda.reset_peak_memory_stats()
    phases.update(collect=0.0, train=0.0)
    start = time.perf_counter()
    model.learn(rollouts * steps_per_rollout, reset_num_timesteps=False)
    if device.startswith("cuda"):
        th.cuda.synchronize()
    elapsed = time.perf_counter() - start
    result = {
        "variant": variant,
        "steps": rollouts * steps_per_rollout,
        "seconds": elapsed,
        "steps_per_s": rollouts * steps_per_rollout / elapsed,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "collect_s_per_rollout": phases["collect"] / rollouts,
        "train_s_per_update": phases["train"] / rollouts,
    }
    if device.startswith("cuda"):
        result["peak_cuda_mib"] = th.cuda.max_memory_allocated() / 2**20
    result.update(_bounds(model, device))
    print("RESULT " + json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rollouts", type=int, default=4, help="timed rollouts (+ updates) per measurement")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variants", nargs="+", default=["ppo", "ppog-fast"], choices=VARIANTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch threads per measurement (default: torch's own choice)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        if args.threads:
            import torch as th

            th.set_num_threads(args.threads)
        _worker(args.worker, args.rollouts, args.device, args.seed)
        return

    import torch as th

    print(
        f"machine: {_cpu_model()}, {os.cpu_count()} cores, torch {th.__version__}, CPU capability "
        f"{th.backends.cpu.get_cpu_capability()}, {args.threads or th.get_num_threads()} threads, device {args.device}"
    )
    print(f"cpu flags: {_cpu_flags()}")
    print(f"settings: {N_ENVS} envs, {ZOO_ATARI}")
    results: dict[str, list[dict]] = {variant: [] for variant in args.variants}
    for round_index in range(args.rounds):
        order = args.variants if round_index % 2 == 0 else list(reversed(args.variants))
        for variant in order:
            command = [
                sys.executable,
                __file__,
                "--worker",
                variant,
                "--rollouts",
                str(args.rollouts),
                "--device",
                args.device,
                "--seed",
                str(args.seed),
                *(["--threads", str(args.threads)] if args.threads else []),
            ]
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            result = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])
            results[variant].append(result)
            extra = f", peak CUDA {result['peak_cuda_mib']:.0f} MiB" if "peak_cuda_mib" in result else ""
            print(
                f"round {round_index + 1} {variant:14s} {result['steps_per_s']:8.1f} env-steps/s "
                f"(rollout {result['collect_s_per_rollout']:.2f} s + update {result['train_s_per_update']:.2f} s; "
                f"peak RSS {result['peak_rss_mib']:.0f} MiB{extra})",
                flush=True,
            )

    print("\nsummary (total steps / total time over the rounds)")
    means = {}
    for variant, rows in results.items():
        means[variant] = sum(r["steps"] for r in rows) / sum(r["seconds"] for r in rows)
        peak = max(r["peak_rss_mib"] for r in rows)
        mean = {key: sum(r[key] for r in rows) / len(rows) for key in rows[0] if key.endswith("_s") or "_s_" in key}
        print(
            f"  {variant:14s} {means[variant]:8.1f} env-steps/s   rollout {mean['collect_s_per_rollout']:.3f} s "
            f"+ update {mean['train_s_per_update']:.3f} s per {N_ENVS * ZOO_ATARI['n_steps']} steps   peak RSS {peak:.0f} MiB"
        )
        bound = mean["emulation_s"] + mean["inference_s"]
        print(
            f"  {'':14s} bounds: rollout {bound:.3f} s (emulation {mean['emulation_s']:.3f} + inference "
            f"{mean['inference_s']:.3f}), update {mean['arithmetic_s']:.3f} s (forward+backward alone); "
            f"overhead rollout {mean['collect_s_per_rollout'] - bound:+.3f} s, update "
            f"{mean['train_s_per_update'] - mean['arithmetic_s']:+.3f} s"
        )
        interleaved = mean["emulation_s"] + mean["inference_after_step_s"]
        print(
            f"  {'':14s} rollout {mean['collect_s_per_rollout'] / bound - 1:+.0%} over its bound; the passes each "
            f"after an env step {mean['inference_after_step_s']:.3f} s, so emulation + those {interleaved:.3f} s, "
            f"the rollout {mean['collect_s_per_rollout'] / interleaved - 1:+.0%} against that"
        )
    for reference, family in (("ppo", "ppog"), ("minatar-ppo", "minatar-")):
        if reference in means:
            for variant in means:
                if variant != reference and variant.startswith(family):
                    print(f"  ratio {variant} / {reference}: {means[variant] / means[reference]:.2f}")


if __name__ == "__main__":
    main()

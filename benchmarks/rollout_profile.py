"""Where the fast path's rollout time goes, beside its bound: PPOG (zoo Atari settings, Space Invaders, 8 envs x 128
steps, channels_last, fp32 unless ``--precision``), SB3's rollout loop timed piece by piece.

    python benchmarks/rollout_profile.py                                   # 2 rounds, torch's/libgomp's defaults
    python benchmarks/rollout_profile.py --spin default 0 10000 --rounds 3 # libgomp's spin-wait, alternating
    python benchmarks/rollout_profile.py --pipelined --rounds 3           # a half-batch pipeline instead

Printed per rollout of 1024 env-steps: the whole ``collect_rollouts``; in it ``env`` (the adapter's ``step``, of which
``send`` is ale-py's ``send``, where the C++ workers are handed the actions), ``policy`` (the forward passes), ``add``
(the rollout buffer), ``input`` (the channels-last view of the observations) and ``other`` (the rest of SB3's loop).
Beside them the bound, measured in the same process: ``emulation`` (the raw ale-py env stepped alone, random actions)
+ ``inference`` (the forward passes alone, back to back).

``--spin``: each value runs in its own subprocess with ``GOMP_SPINCOUNT`` set (``default``: unset), the rounds
alternating the order. libgomp (torch's OpenMP on Linux) reads it at start: how long torch's idle worker threads
spin before they sleep. After a forward pass, a spinning worker holds a core that ale-py's C++ threads want (the
``send`` waits); a sleeping one takes a wake-up per parallel region of the next forward pass. The profile shows
which of the two the rollout pays.

``--pipelined``: the alternative the issue asks about, inference with fewer threads overlapped with emulation, as bare
loops (forward pass + env step, no buffer): ``sync`` (one 8-env C++ env on 2 threads, torch's threads) against
``pipelined`` (two 4-env C++ envs of one thread each, torch on one thread: half B's forward pass runs while half A
emulates, and the reverse). Not offered in PPOG: on the 2-core Intel AMX kind the bare pipeline was 20% faster than
the bare synchronous loop (0.524 against 0.652 s, 4 rounds), about 6% of an fp32 training cycle (rollout + update,
2.2 s), below the 10% end to end that a second rollout loop (its own resume, its own random streams) must earn;
on the 2-core AMD AVX2 kind 10% faster (0.689 against 0.766 s, 4 rounds, 2026-12-03), about 2.5% of its 3.1 s cycle.
Neither reaches the bound (emulation + inference alone: 0.41 s Intel, 0.54 s AVX2).

``--threading CYCLES [--lanes [K]]``: ``rollout_thread`` True against False in one process, cycle by cycle; with
``--lanes`` the env in K lanes (default 2; ``make_atari_vec_env(..., lanes=K)``) and ``"lanes"`` against ``True`` on the same
model, env and buffer (``ppog_sb3/common/lane_rollout.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ZOO_ATARI = dict(n_steps=128, n_epochs=4, batch_size=256, learning_rate=2.5e-4, clip_range=0.1, vf_coef=0.5, ent_coef=0.01)
PARTS = ("env", "send", "policy", "add", "input")


def _worker(precision: str, rollouts: int) -> dict[str, float]:
    import numpy as np
    import torch as th
    from stable_baselines3.common.callbacks import CallbackList
    from throughput import time_method  # benchmarks/throughput.py, beside this file

    import ppog_sb3
    from ppog_sb3 import PPOG

    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0)
    model = PPOG("CnnPolicy", env, precision=precision, channels_last=True, seed=0, **ZOO_ATARI)
    totals = dict.fromkeys(PARTS, 0.0)
    for owner, name, part in (
        (model.env, "step", "env"),
        (model.env, "step_async", "send"),
        (model, "_rollout_forward", "policy"),
        (model.rollout_buffer, "add", "add"),
        (model, "_model_input", "input"),
    ):
        time_method(totals, owner, name, part)
    model.learn(1024)  # warm-up: one rollout and update
    totals.update(dict.fromkeys(PARTS, 0.0))
    callback = CallbackList([])
    callback.init_callback(model)
    rollout = 0.0
    for _ in range(rollouts):
        model.rollout_buffer.reset()
        start = time.perf_counter()
        model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
        rollout += time.perf_counter() - start
    result = {part: value / rollouts for part, value in totals.items()}
    result["rollout"] = rollout / rollouts
    result["other"] = result["rollout"] - sum(result[p] for p in PARTS if p != "send")

    env.reset()
    actions = np.stack([env.action_space.sample() for _ in range(env.num_envs)])
    start = time.perf_counter()
    for _ in range(model.n_steps * rollouts):
        env._vec.step(actions)  # ale-py's own step: the adapter's bound
    result["emulation"] = (time.perf_counter() - start) / rollouts
    obs = model._model_input(th.as_tensor(env.reset()))
    model.policy.set_training_mode(False)
    with th.inference_mode(), model._autocast():
        model._rollout_forward(obs)
        start = time.perf_counter()
        for _ in range(model.n_steps * rollouts):
            model._rollout_forward(obs)
    result["inference"] = (time.perf_counter() - start) / rollouts
    return result


def _bare_loop(mode: str, rollouts: int) -> float:
    """Seconds per 128 steps of 8 envs of a bare forward + step loop, synchronous or as a half-batch pipeline."""
    import torch as th

    import ppog_sb3
    from ppog_sb3 import PPOG
    from ppog_sb3.common.precision import channels_last_input

    def make(n_envs: int, seed: int, threads: int | None):
        return ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=n_envs, seed=seed, num_threads=threads)

    if mode == "pipelined":
        th.set_num_threads(1)
    envs = [make(8, 0, None)] if mode == "sync" else [make(4, 0, 1), make(4, 4, 1)]
    model = PPOG("CnnPolicy", make(8, 0, None), channels_last=True, seed=0, **ZOO_ATARI)
    policy = model.policy
    policy.set_training_mode(False)
    observations = [env.reset() for env in envs]

    def act(obs):
        with th.inference_mode():
            return policy(channels_last_input(th.as_tensor(obs)))[0].numpy()

    def rollout() -> None:
        if mode == "sync":
            for _ in range(128):
                observations[0] = envs[0].step(act(observations[0]))[0]
            return
        envs[0].step_async(act(observations[0]))
        for step in range(128):
            envs[1].step_async(act(observations[1]))  # half B's forward pass while half A emulates
            observations[0] = envs[0].step_wait()[0]
            if step < 127:
                envs[0].step_async(act(observations[0]))  # half A's while half B emulates
            observations[1] = envs[1].step_wait()[0]

    rollout()  # warm-up
    start = time.perf_counter()
    for _ in range(rollouts):
        rollout()
    return (time.perf_counter() - start) / rollouts


def alternating_cycles(model, phases: dict[str, float], modes: tuple, switch, cycles: int) -> dict:
    """``cycles`` cycles of one ``model.learn(1024)`` (a rollout and an update) per mode, the modes' order reversed
    every other cycle so that the host's drifts hit them alike; ``switch(mode)`` sets a mode up before its cycle.
    Returns each mode's ``collect`` and ``train`` seconds per cycle (``phases``: ``throughput._time_phases(model)``)."""
    times: dict = {mode: {"collect": [], "train": []} for mode in modes}
    for cycle in range(cycles):
        for mode in modes if cycle % 2 == 0 else modes[::-1]:
            switch(mode)
            phases.update(collect=0.0, train=0.0)
            model.learn(1024, reset_num_timesteps=False)
            for key in ("collect", "train"):
                times[mode][key].append(phases[key])
    return times


def print_cycles(times: dict, bound: float, update_bound: float, model=None) -> None:  # noqa: ANN001
    """Each mode's mean rollout (its median beside it) and update of ``alternating_cycles``, against the bounds; with
    ``model``, the games its episode-info buffer holds (a check that the rollouts played)."""
    import numpy as np

    if model is not None:
        scores = [info["r"] for info in model.ep_info_buffer]
        print(f"  ep_info_buffer: {len(scores)} games, mean score {np.mean(scores):.1f}")

    for mode, measured in times.items():
        collect, train = (float(np.mean(measured[key])) for key in ("collect", "train"))
        median = float(np.median(measured["collect"]))
        print(
            f"  {mode:7}: rollout {collect:.3f} (median {median:.3f}; bound {bound:.3f}, {collect / bound - 1:+.0%}), "
            f"update {train:.3f} (bound {update_bound:.3f}); cycle {collect + train:.3f}, "
            f"{1024 / (collect + train):.1f} env-steps/s"
        )


def _threading(cycles: int, precision: str, lanes: int = 0) -> None:
    """``rollout_thread`` on and off in one process, alternating cycle by cycle (rollout + update), so the host's
    drifts hit both alike; the update is timed too, as a worker thread's OpenMP pool could change it. ``lanes``: the
    env in that many lanes, ``rollout_thread="lanes"`` against ``True`` (the same env stepped as one, with the worker
    thread): the same model, env and buffer, only the rollout loop differs."""
    import numpy as np
    import torch as th
    from throughput import _bounds, _time_phases

    import ppog_sb3
    from ppog_sb3 import PPOG

    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0, lanes=lanes or 1)
    model = PPOG("CnnPolicy", env, precision=precision, channels_last=True, seed=0, **ZOO_ATARI)
    phases = _time_phases(model)
    modes: tuple = ("lanes", True) if lanes else (True, False)

    def switch(on: bool | str) -> None:
        model.rollout_thread = on

    for mode in modes:  # warm-up: a rollout and update of each
        switch(mode)
        model.learn(1024, reset_num_timesteps=False)
    times = alternating_cycles(model, phases, modes, switch, cycles)
    bounds = _bounds(model, "cpu")
    bound = bounds["emulation_s"] + bounds["inference_s"]
    print(
        f"torch {th.__version__}, CPU capability {th.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores, "
        f"{th.get_num_threads()} torch threads, {cycles} cycles each, alternating"
    )
    for on, measured in times.items():
        collect, train = (float(np.mean(measured[key])) for key in ("collect", "train"))
        print(
            f"  rollout_thread={on!s:5}: rollout {collect:.3f} s (median {np.median(measured['collect']):.3f}; bound "
            f"{bound:.3f}, {collect / bound - 1:+.0%}), update {train:.3f} s (median {np.median(measured['train']):.3f}; "
            f"bound {bounds['arithmetic_s']:.3f}), per 1024 env-steps"
        )
    for key, name in (("collect", "rollout"), ("train", "update")):
        paired = np.array(times[modes[0]][key]) / np.array(times[modes[1]][key])
        print(
            f"  {name} {modes[0]}/{modes[1]} per cycle pair: mean {paired.mean():.3f}, min {paired.min():.3f}, "
            f"max {paired.max():.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rollouts", type=int, default=6, help="timed rollouts per measurement")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "auto"))
    parser.add_argument("--spin", nargs="+", default=["default"], help="GOMP_SPINCOUNT values ('default': unset)")
    parser.add_argument("--pipelined", action="store_true", help="bare loops: synchronous vs half-batch pipeline")
    parser.add_argument("--threading", type=int, metavar="CYCLES", help="rollout_thread on vs off, CYCLES cycles each")
    parser.add_argument(
        "--lanes",
        type=int,
        nargs="?",
        const=2,
        default=0,
        help="with --threading: the env in LANES lanes (2 if no value), 'lanes' vs True",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--loop", choices=("sync", "pipelined"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = {"loop": _bare_loop(args.loop, args.rollouts)} if args.loop else _worker(args.precision, args.rollouts)
        print("RESULT " + json.dumps(result), flush=True)
        return
    if args.threading:
        _threading(args.threading, args.precision, args.lanes)
        return
    if args.pipelined:
        loops: dict[str, list[float]] = {"sync": [], "pipelined": []}
        for round_index in range(args.rounds):
            for loop in loops if round_index % 2 == 0 else list(reversed(loops)):
                command = [sys.executable, __file__, "--worker", "--loop", loop, "--rollouts", str(args.rollouts)]
                output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                seconds = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])["loop"]
                loops[loop].append(seconds)
                print(f"round {round_index + 1} {loop:9s}: {seconds:.3f} s per 1024 env-steps", flush=True)
        for loop, values in loops.items():
            print(f"  {loop:9s} mean {sum(values) / len(values):.3f} s per 1024 env-steps (forward passes + env steps)")
        return

    import torch as th

    print(f"torch {th.__version__}, CPU capability {th.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores")
    rows: dict[str, list[dict[str, float]]] = {spin: [] for spin in args.spin}
    for round_index in range(args.rounds):
        for spin in args.spin if round_index % 2 == 0 else list(reversed(args.spin)):
            env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
            if spin != "default":
                env["GOMP_SPINCOUNT"] = spin
            command = [sys.executable, __file__, "--worker", "--precision", args.precision, "--rollouts", str(args.rollouts)]
            output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
            result = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])
            rows[spin].append(result)
            parts = "  ".join(f"{p} {result[p]:.3f}" for p in (*PARTS, "other"))
            print(
                f"round {round_index + 1} spin {spin:>7}: rollout {result['rollout']:.3f} s = {parts}; bound "
                f"{result['emulation'] + result['inference']:.3f} (emulation {result['emulation']:.3f} + inference "
                f"{result['inference']:.3f})",
                flush=True,
            )
    print("\nmean over the rounds, seconds per rollout of 1024 env-steps")
    for spin, results in rows.items():
        mean = {key: sum(r[key] for r in results) / len(results) for key in results[0]}
        bound = mean["emulation"] + mean["inference"]
        print(
            f"  spin {spin:>7}: rollout {mean['rollout']:.3f} (bound {bound:.3f}, {mean['rollout'] / bound - 1:+.0%}); "
            + "  ".join(f"{p} {mean[p]:.3f}" for p in (*PARTS, "other", "emulation", "inference"))
        )


if __name__ == "__main__":
    main()

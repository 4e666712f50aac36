"""(An investigation's script, kept with the log it produced; not a feature of the package.)
Can any rollout loop reach the speed issue's bound (emulation alone + inference alone) on a 2-core CPU? Bare loops
(PPOG's policy, its categorical forward pass, ale-py's ``AtariVectorEnv``; no buffer, no callbacks), in one process,
alternating cycle by cycle, seconds per 1024 env-steps of Space Invaders:

    python benchmarks/experiments/rollout_designs.py [CYCLES]

- ``sync``: one 8-env C++ env on 2 threads, the forward pass (batch 8) on torch's 2 threads between its steps (the
  one-env loop of PPOG without its worker thread);
- ``lanes``: two 4-env C++ envs of one thread each, each stepped by a Python thread of its own with one torch thread
  (what ``rollout_thread="lanes"`` runs, ``ppog_sb3/common/lane_rollout.py``); ``adapter_lanes``: the same loop over
  the fast path's own lanes (``make_atari_vec_env(..., lanes=2)``: the package's ``VecEnv`` adapter, its options and
  infos); ``ppog_lanes``: PPOG's own ``collect_rollouts`` in lanes (the buffer, the replay on the calling thread);
- ``async``: ale-py's envpool-style batches, one 8-env C++ env on 2 threads with ``batch_size=4``, the forward pass of
  each finished half (one torch thread) while the other half emulates; ``async1``: the same with **one** C++ thread
  (one core emulates all 8 envs, the other runs every forward pass: neither core alternates), ``async1_pinned`` with
  that thread pinned to core 0 and the Python thread to core 1;
- ``pipe``: two 4-env C++ envs of one thread each, stepped from one Python thread, half B's forward pass while half
  A emulates (``pipe_pinned``: both C++ threads pinned to core 0); ``pipe_fifo`` (``_pinned``): a half sent only when
  the other half's batch is back, so the two C++ threads never share a core at once; ``lanes_split``: lanes with
  both C++ threads pinned to core 0 and both Python threads to core 1 (one core emulating, one inferring, with two envs);
- the bound, as ``benchmarks/throughput.py`` takes it: the 8-env env stepped alone (random actions) + the batch-8
  forward pass alone, back to back, each on 2 threads;
- ``cores busy``: the process's CPU time (every thread's) per second of wall time, out of 2;
- one lane alone on one core, three ways: its forward passes alone (``lane_inf``), its env steps alone
  (``lane_env``), and the two alternating as a rollout does (``lane_both``): whether alternating costs more than the
  sum of its parts on the same core, which no loop design can take out.

Measured 2026-12-04, 2-core AMD EPYC Zen 5 AVX512-BF16 (``results/speed_check/rollout_designs_2026-12-04_amd-avx512bf16.log``):
over the bound (six runs; the one-thread batches the fastest in each), ``async1`` -1% to +7%, ``lanes`` +5-21%,
``ppog_lanes`` +16-41%, ``async`` +15-34%, ``sync`` +29-61%, ``pipe`` +32-44% (cores left idle, 1.42-1.47 of 2 busy),
``lanes_split`` +48% (1.38 busy: with two envs, each C++ thread sleeps after its batch; ale-py's one env with a queue
of half batches never does); one lane alternating costs +12-36% over the sum of its parts. 2026-12-05, same kind
(``rollout_designs_2026-12-05_amd-avx512bf16.log``, ``python benchmarks/experiments/rollout_designs.py 12 async1
async1_pinned pipe_pinned pipe_fifo pipe_fifo_pinned lanes``: optional names after CYCLES run only those designs):
``pipe_fifo`` +8%, pinned +12%, against ``pipe_pinned`` +12%, ``lanes`` +3%, ``async1`` -3%.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np
import torch as th
from ale_py.vector_env import AtariVectorEnv
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.utils import obs_as_tensor

import ppog_sb3
from ppog_sb3 import PPOG
from ppog_sb3.common.exact_resume import categorical_forward

CYCLES = int(sys.argv[1]) if len(sys.argv) > 1 else 8
STEPS = 128
GAME = "space_invaders"
ZOO_ATARI = dict(n_steps=128, n_epochs=4, batch_size=256, learning_rate=2.5e-4, clip_range=0.1, vf_coef=0.5, ent_coef=0.01)
KW = dict(repeat_action_probability=0.25, noop_max=30, reward_clipping=False, use_fire_reset=False)

laned = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0, lanes=2)
model = PPOG("CnnPolicy", laned, channels_last=True, seed=0, rollout_thread="lanes", **ZOO_ATARI)
model.learn(1024)  # sets the last observation; one rollout and update
policy = model.policy
policy.set_training_mode(False)


def forward(obs: np.ndarray) -> np.ndarray:
    with th.inference_mode():
        actions, _, _ = categorical_forward(policy, model._model_input(obs_as_tensor(obs, "cpu")))
    return actions.numpy()


sync_env = AtariVectorEnv(GAME, 8, num_threads=2, **KW)
pinned_lanes = [AtariVectorEnv(GAME, 4, num_threads=1, thread_affinity_offset=0, **KW) for _ in range(2)]
core0_lanes = [AtariVectorEnv(GAME, 4, num_threads=1, thread_affinity_offset=0, **KW) for _ in range(2)]
fifo_lanes = [AtariVectorEnv(GAME, 4, num_threads=1, **KW) for _ in range(2)]
fifo_pinned_lanes = [AtariVectorEnv(GAME, 4, num_threads=1, thread_affinity_offset=0, **KW) for _ in range(2)]
adapter = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0, lanes=2)  # not the model's: its own obs
lane_envs = [AtariVectorEnv(GAME, 4, num_threads=1, **KW) for _ in range(2)]
async_env = AtariVectorEnv(GAME, 8, batch_size=4, num_threads=2, **KW)
async1_env = AtariVectorEnv(GAME, 8, batch_size=4, num_threads=1, **KW)
pinned_env = AtariVectorEnv(GAME, 8, batch_size=4, num_threads=1, thread_affinity_offset=0, **KW)
state = {
    "sync": sync_env.reset(seed=0)[0],
    "lanes": [env.reset(seed=4 * j)[0] for j, env in enumerate(lane_envs)],
    "async": async_env.reset(seed=0)[0],  # the first finished half (envpool-style)
    "async1": async1_env.reset(seed=0)[0],
    "pinned": pinned_env.reset(seed=0)[0],
    "pipe": [env.reset(seed=4 * j)[0] for j, env in enumerate(lane_envs)],
    "pipe_pinned": [env.reset(seed=4 * j)[0] for j, env in enumerate(pinned_lanes)],
    "lanes_split": [env.reset(seed=4 * j)[0] for j, env in enumerate(core0_lanes)],
    "pipe_fifo": [env.reset(seed=4 * j)[0] for j, env in enumerate(fifo_lanes)],
    "pipe_fifo_pinned": [env.reset(seed=4 * j)[0] for j, env in enumerate(fifo_pinned_lanes)],
    "adapter": [lane.reset() for lane in adapter.lanes],
}


def run_sync() -> None:
    th.set_num_threads(2)
    obs = state["sync"]
    for _ in range(STEPS):
        obs = sync_env.step(forward(obs))[0]
    state["sync"] = obs


def lanes_loop(envs: list, key: str, pin: set[int] | None = None):  # noqa: ANN201
    """Each env stepped by a Python thread of its own with one torch thread, without waiting for the other
    (``pin``: the lanes' Python threads on these cores only)."""

    def run() -> None:
        def lane(j: int) -> None:
            th.set_num_threads(1)
            if pin is not None:
                os.sched_setaffinity(0, pin)
            obs = state[key][j]
            for _ in range(STEPS):
                obs = envs[j].step(forward(obs))[0]
            state[key][j] = obs

        threads = [threading.Thread(target=lane, args=(j,)) for j in range(len(envs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        th.set_num_threads(2)

    return run


def async_loop(env: AtariVectorEnv, key: str, pin: bool = False):  # noqa: ANN201
    def run() -> None:
        th.set_num_threads(1)
        if pin:  # this thread on core 1, the env's one C++ thread on core 0 (thread_affinity_offset=0)
            os.sched_setaffinity(0, {1})
        obs = state[key]
        for _ in range(2 * STEPS):  # half-batches
            env.send(forward(obs))
            obs = env.recv()[0]
        state[key] = obs
        if pin:
            os.sched_setaffinity(0, {0, 1})
        th.set_num_threads(2)

    return run


callback = CallbackList([])
callback.init_callback(model)


def run_ppog_lanes() -> None:
    """PPOG's own rollout in lanes (the buffer, infos, bootstrap, the replay and callbacks on the calling thread)."""
    model.rollout_buffer.reset()
    model.collect_rollouts(model.env, callback, model.rollout_buffer, STEPS)


def pipelined(envs: list, key: str):  # noqa: ANN201
    """Two 4-env C++ envs of one thread each, stepped from this one thread: half B's forward pass while half A
    emulates, and the reverse."""

    def run() -> None:
        th.set_num_threads(1)
        obs = state[key]
        envs[0].send(forward(obs[0]))
        for step in range(STEPS):
            envs[1].send(forward(obs[1]))
            obs[0] = envs[0].recv()[0]
            if step < STEPS - 1:
                envs[0].send(forward(obs[0]))
            obs[1] = envs[1].recv()[0]
        th.set_num_threads(2)

    return run


def pipelined_fifo(envs: list, key: str, pin: bool = False):  # noqa: ANN201
    """As ``pipelined``, but half B's actions are sent only once half A's batch is back (and the reverse), so no
    two C++ threads ever have work at once: one core emulates the halves one after the other, first come first
    served, as ale-py's one queued env does, while this thread runs the other half's forward pass (``pin``: the two
    C++ threads on core 0, this thread on core 1)."""

    def run() -> None:
        th.set_num_threads(1)
        if pin:
            os.sched_setaffinity(0, {1})
        obs = state[key]
        envs[0].send(forward(obs[0]))
        actions_b = forward(obs[1])
        for step in range(STEPS):
            obs[0] = envs[0].recv()[0]
            envs[1].send(actions_b)
            last = step == STEPS - 1
            if not last:
                actions_a = forward(obs[0])
            obs[1] = envs[1].recv()[0]
            if not last:
                envs[0].send(actions_a)
                actions_b = forward(obs[1])
        if pin:
            os.sched_setaffinity(0, {0, 1})
        th.set_num_threads(2)

    return run


def run_emulation() -> None:
    th.set_num_threads(2)
    rng = np.random.default_rng(0)
    for _ in range(STEPS):
        sync_env.step(rng.integers(0, 6, 8))
    state["sync"] = sync_env.step(rng.integers(0, 6, 8))[0]


def run_inference() -> None:
    th.set_num_threads(2)
    obs = state["sync"]
    for _ in range(STEPS):
        forward(obs)


def lane_alone(inference: bool, env: bool):  # noqa: ANN201
    def run() -> None:
        th.set_num_threads(1)
        obs = state["lanes"][0]
        zeros = np.zeros(4, dtype=np.int64)
        for _ in range(STEPS):
            actions = forward(obs) if inference else zeros
            if env:
                obs = lane_envs[0].step(actions)[0]
        state["lanes"][0] = obs
        th.set_num_threads(2)

    return run


variants = {
    "sync": run_sync,
    "lanes": lanes_loop(lane_envs, "lanes"),
    # both lanes' C++ threads on core 0, both Python threads on core 1: one core emulates, the other infers
    "lanes_split": lanes_loop(core0_lanes, "lanes_split", pin={1}),
    "async": async_loop(async_env, "async"),
    "async1": async_loop(async1_env, "async1"),
    "async1_pinned": async_loop(pinned_env, "pinned", pin=True),
    "pipe": pipelined(lane_envs, "pipe"),
    "pipe_pinned": pipelined(pinned_lanes, "pipe_pinned"),
    "pipe_fifo": pipelined_fifo(fifo_lanes, "pipe_fifo"),
    "pipe_fifo_pinned": pipelined_fifo(fifo_pinned_lanes, "pipe_fifo_pinned", pin=True),
    "adapter_lanes": lanes_loop(adapter.lanes, "adapter"),  # the fast path's own lanes (the package's adapter)
    "ppog_lanes": run_ppog_lanes,
    "emulation": run_emulation,
    "inference": run_inference,
    "lane_inf": lane_alone(True, False),
    "lane_env": lane_alone(False, True),
    "lane_both": lane_alone(True, True),
}
ONLY = sys.argv[2:]  # optional: only these designs (with the bound's two parts)
if ONLY:
    variants = {name: run for name, run in variants.items() if name in (*ONLY, "emulation", "inference")}
for run in variants.values():  # warm-up
    run()
times: dict[str, list[float]] = {name: [] for name in variants}
cpu: dict[str, list[float]] = {name: [] for name in variants}  # the process's CPU seconds (all threads) per wall second
for cycle in range(CYCLES):
    order = list(variants) if cycle % 2 == 0 else list(variants)[::-1]
    for name in order:
        start, cpu_start = time.perf_counter(), time.process_time()
        variants[name]()
        times[name].append(time.perf_counter() - start)
        cpu[name].append((time.process_time() - cpu_start) / times[name][-1])
print(f"torch {th.__version__}, CPU capability {th.backends.cpu.get_cpu_capability()}, {CYCLES} cycles")
for name, values in times.items():
    print(
        f"{name:13s} mean {np.mean(values):.3f}  median {np.median(values):.3f}  cores busy {np.mean(cpu[name]):.2f}  "
        + " ".join(f"{v:.3f}" for v in values)
    )
bound = np.mean(times["emulation"]) + np.mean(times["inference"])
print(f"bound (emulation + inference) {bound:.3f}")
designs = ("sync", "lanes", "lanes_split", "async", "async1", "async1_pinned", "pipe", "pipe_pinned", "pipe_fifo")
for name in (*designs, "pipe_fifo_pinned", "adapter_lanes", "ppog_lanes"):
    if name not in variants:
        continue
    print(f"{name:13s} {np.mean(times[name]) / bound - 1:+.0%} over the bound")
if "lane_both" not in variants:
    sys.exit()
parts = np.mean(times["lane_inf"]) + np.mean(times["lane_env"])
print(f"one lane, alternating against the sum of its parts: {np.mean(times['lane_both']) / parts - 1:+.0%}")

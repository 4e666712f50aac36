"""(An investigation's script, kept with its result; not a feature of the package.)
Where PPOG's lanes rollout spends its time: before the lanes start (the buffer's reset, the lanes' seeds), the lanes'
span (first lane thread started to last one finished), and after it on the calling thread (the replay into the
buffer, info buffer and monitors, the callbacks, the last values and the GAE). PPOG, zoo Atari settings, Space
Invaders, 8 envs in 2 lanes, fp32, channels-last, 12 rollouts:

    python benchmarks/experiments/lane_phases.py

Measured 2026-12-04, 2-core AMD EPYC Zen 5 AVX512-BF16, background tuning paused, two runs: total 0.3765 and 0.3804 s
per rollout of 1024 env-steps, before the lanes 0.0021 and 0.0013, the lanes' span 0.3566 and 0.3630, after them
0.0178 and 0.0161 (4-5%): the span is the bare lanes loop's speed (``rollout_designs.py``), the serial replay most of
what PPOG adds to it.
"""

import threading
import time
import types

import numpy as np
from stable_baselines3.common.callbacks import CallbackList

import ppog_sb3
import ppog_sb3.common.lane_rollout as lr
from ppog_sb3 import PPOG

spans = []


class T(threading.Thread):
    def run(self):
        t0 = time.perf_counter()
        super().run()
        spans.append((t0, time.perf_counter()))


# the lanes' threads timed: this script swaps the package module's Thread for one that records its span
lr.threading = types.SimpleNamespace(Thread=T, Event=threading.Event)
laned = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0, lanes=2)
m = PPOG("CnnPolicy", laned, channels_last=True, seed=0, rollout_thread="lanes", n_steps=128, batch_size=256, n_epochs=4)
m.learn(1024)
cb = CallbackList([])
cb.init_callback(m)
R = 12
tot = []
pre = []
post = []
span = []
for _ in range(R):
    spans.clear()
    t0 = time.perf_counter()
    m.rollout_buffer.reset()
    t1 = time.perf_counter()
    m.collect_rollouts(m.env, cb, m.rollout_buffer, 128)
    t2 = time.perf_counter()
    start = min(s for s, _ in spans)
    end = max(e for _, e in spans)
    tot.append(t2 - t0)
    pre.append(start - t0)
    span.append(end - start)
    post.append(t2 - end)


def f(v: list[float]) -> str:
    return f"{np.mean(v):.4f}"


print(
    "total",
    f(tot),
    "before lanes (incl. buffer reset)",
    f(pre),
    "lanes span",
    f(span),
    "after lanes (replay, callbacks, GAE)",
    f(post),
)

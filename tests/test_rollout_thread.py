"""``rollout_thread``: the rollout's forward passes on a worker thread of their own (ppog_sb3/common/rollout_thread.py).

The option is for speed only, so what is tested is that nothing else changes: the same numbers as without it (and as
SB3's PPO with ``policy_loss="clip"``), the forward passes really on the worker and under ``inference_mode`` there,
callbacks on the main thread, the thread gone before the update and after an error or a stop, and bad values refused.
"""

import threading

import numpy as np
import pytest
import torch as th
from helpers import SMALL_CNN, CrashAfterCheckpoint, image_vec_env
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

from ppog_sb3 import PPOG
from ppog_sb3.common.rollout_thread import ForwardThread, use_rollout_thread

CNN = dict(SMALL_CNN, device="cpu")
THREAD_PREFIX = "ppog-rollout-forward"


def _forward_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


class _Record(BaseCallback):
    """Records the thread of each callback call and whether a forward-pass worker was alive at each update."""

    def __init__(self):
        super().__init__()
        self.step_threads: set[str] = set()
        self.workers_at_update: list[int] = []

    def _on_step(self) -> bool:
        self.step_threads.add(threading.current_thread().name)
        return True

    def _on_rollout_end(self) -> None:  # called after collect_rollouts' with-block, just before train()
        self.workers_at_update.append(len(_forward_threads()))


def _traced(model):
    """Wraps the model's rollout forward pass: records (thread name, inference mode) of each call."""
    calls: list[tuple[str, bool]] = []
    forward = model._rollout_forward

    def wrapper(obs):
        calls.append((threading.current_thread().name, th.is_inference_mode_enabled()))
        return forward(obs)

    model._rollout_forward = wrapper
    return calls


def _rollout_data(model) -> dict[str, np.ndarray]:
    buffer = model.rollout_buffer
    return {name: getattr(buffer, name).copy() for name in ("actions", "rewards", "values", "log_probs", "advantages")}


def test_the_worker_thread_gives_the_same_numbers_as_the_main_thread():
    """Same parameters, Adam state and rollout data (``torch.equal`` / ``np.array_equal``), on a CNN env with
    time-limit truncations (their bootstrap forward passes run on the worker too). Catches a forward pass run twice
    on the worker (it shares torch's global generator with the main thread: seen red), or the bootstrap of truncated
    episodes lost (seen red with ``bootstrap_truncated``'s added value multiplied by 0)."""
    models = {}
    for on in (True, False):
        models[on] = PPOG("CnnPolicy", image_vec_env(), rollout_thread=on, **CNN)
        models[on].learn(4 * 32 * 2)
    on, off = models[True], models[False]
    for key, value in off.policy.state_dict().items():
        assert th.equal(on.policy.state_dict()[key], value), key
    for param_on, param_off in zip(on.policy.parameters(), off.policy.parameters()):
        for name, state in on.policy.optimizer.state[param_on].items():
            assert th.equal(state, off.policy.optimizer.state[param_off][name]), name
    data_on, data_off = _rollout_data(on), _rollout_data(off)
    for name in data_off:
        assert np.array_equal(data_on[name], data_off[name]), name
    assert not np.array_equal(data_on["rewards"], np.round(data_on["rewards"])), "no truncation was bootstrapped"


def test_clip_with_the_worker_thread_is_still_ppo_bit_for_bit():
    """The drop-in promise holds with the thread forced on (the default "auto" is on only with > 1 torch thread).
    Catches the threaded loop changing anything SB3's PPO loop computes."""
    ppo = PPO("CnnPolicy", image_vec_env(), **CNN)
    ppo.learn(3 * 32 * 2)  # before PPOG is built: both draw from torch's global generator, seeded by each constructor
    ppog = PPOG("CnnPolicy", image_vec_env(), policy_loss="clip", rollout_thread=True, **CNN)
    ppog.learn(3 * 32 * 2)
    for key, value in ppo.policy.state_dict().items():
        assert th.equal(ppog.policy.state_dict()[key], value), key


@pytest.mark.parametrize("on", [True, False])
def test_forward_passes_run_on_the_worker_in_inference_mode_and_callbacks_on_the_main_thread(on):
    """With the option, every forward pass runs on the worker thread, under ``inference_mode`` (thread-local, so the
    worker must enter it itself), and callbacks stay on the main thread; without it, everything is on the main
    thread. Catches ``enabled`` ignored (red both ways), the ``inference_mode`` entered on the main thread around
    ``run`` instead of inside the worker's function, and the worker left alive into the update."""
    model = PPOG("CnnPolicy", image_vec_env(), rollout_thread=on, **CNN)
    calls = _traced(model)
    record = _Record()
    model.learn(2 * 32 * 2, callback=record)
    main = threading.current_thread().name
    assert len(calls) == 2 * 32
    assert {thread for thread, _ in calls} == ({f"{THREAD_PREFIX}_0"} if on else {main})
    assert all(inference for _, inference in calls)
    assert record.step_threads == {main}
    assert record.workers_at_update == [0, 0]
    assert _forward_threads() == []


class _FailingForward(RuntimeError):
    pass


def test_an_error_in_a_forward_pass_reaches_learn_and_ends_the_thread():
    """An exception raised on the worker is raised again by ``learn``, and the worker is gone. Catches the executor
    not shut down on the way out (seen red with the shutdown removed)."""
    model = PPOG("CnnPolicy", image_vec_env(), rollout_thread=True, **CNN)

    def fail(obs):
        raise _FailingForward("boom")

    model._rollout_forward = fail
    with pytest.raises(_FailingForward, match="boom"):
        model.learn(64)
    assert _forward_threads() == []


def test_a_callback_stopping_mid_rollout_ends_the_thread():
    """Catches the early return of a stopped rollout leaving the worker alive (seen red with the shutdown removed)."""
    model = PPOG("CnnPolicy", image_vec_env(), rollout_thread=True, **CNN)
    model.learn(10 * 32 * 2, callback=CrashAfterCheckpoint(5))  # stops at its 5th step
    assert model.num_timesteps == 5 * 2
    assert _forward_threads() == []


@pytest.mark.parametrize("value", [1, 0, "yes", None, "on"])
def test_bad_values_are_refused_naming_the_argument(value):
    with pytest.raises(ValueError, match=r"rollout_thread=.*allowed values are True, False, 'auto' and 'lanes'"):
        PPOG("CnnPolicy", image_vec_env(), rollout_thread=value, **CNN)


def test_a_bad_value_set_on_a_live_model_is_refused_at_the_next_rollout():
    model = PPOG("CnnPolicy", image_vec_env(), **CNN)
    model.rollout_thread = "always"
    with pytest.raises(AssertionError, match=r"rollout_thread='always'"):  # also an AssertionError, as PPO raises
        model.learn(64)


def test_auto_means_a_cpu_device_with_more_than_one_torch_thread():
    """Catches "auto" read as always on (a thread per rollout for nothing) or as off (the 2-core speed-up lost)."""
    threads = th.get_num_threads()
    try:
        th.set_num_threads(2)
        assert use_rollout_thread("auto", th.device("cpu"))
        assert not use_rollout_thread("auto", th.device("cuda"))
        th.set_num_threads(1)
        assert not use_rollout_thread("auto", th.device("cpu"))
        assert use_rollout_thread(True, th.device("cuda"))
        assert not use_rollout_thread(False, th.device("cpu"))
    finally:
        th.set_num_threads(threads)


def test_the_worker_sees_torchs_thread_count():
    """A forward pass on the worker uses as many torch threads as the main thread (so its kernels, and numbers, are
    the same); catches a future torch whose new threads start with their own default."""
    with ForwardThread(True) as run:
        assert run(th.get_num_threads) == th.get_num_threads()
        assert run(lambda: threading.current_thread().name).startswith(THREAD_PREFIX)


def test_the_setting_is_saved_with_the_model(tmp_path):
    model = PPOG("CnnPolicy", image_vec_env(), rollout_thread=False, **CNN)
    model.save(tmp_path / "model.zip")
    assert PPOG.load(tmp_path / "model.zip", device="cpu").rollout_thread is False

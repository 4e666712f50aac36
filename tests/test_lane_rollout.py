"""The rollout in lanes (ppog_sb3/common/lane_rollout.py) on a ``LanedVecEnv`` (ppog_sb3/envs/lanes.py).

It is for speed, so what is tested is what it keeps: the buffer holds exactly what the envs and the policy gave
(checked by stepping fresh copies of the lanes with the recorded actions, and by SB3's own ``predict_values`` and
``evaluate_actions``), the truncation bootstrap, runs reproducible from the seed, callbacks with each step's locals,
an exact resume from a checkpoint written in those callbacks, errors and Ctrl-C-free shutdown of the lanes, and the
choice of ``rollout_thread``. Its speed is measured in ``benchmarks/throughput.py --variants ppog-fast-lanes``.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch as th
from helpers import SmallImageEnv, assert_same_parameters
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from ppog_sb3 import PPOG
from ppog_sb3.envs.lanes import LanedVecEnv

N_STEPS = 32
TINY_CNN = dict(
    n_steps=N_STEPS,
    batch_size=64,
    n_epochs=2,
    seed=1,
    device="cpu",
    policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=32)),
)
LANE_SEEDS = (2, 12)  # lane j's DummyVecEnv: envs seeded LANE_SEEDS[j] + i


def lane_env(j: int):
    return make_vec_env(lambda: SmallImageEnv(channels=4, channel_first=True, max_steps=12), n_envs=2, seed=LANE_SEEDS[j])


def laned_env() -> LanedVecEnv:
    return LanedVecEnv([lane_env(0), lane_env(1)])


def _lane_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ppog-lane-")]


class _Snapshot(BaseCallback):
    """At each rollout's end: a copy of the buffer's arrays and of the policy that collected them."""

    def __init__(self):
        super().__init__()
        self.rollouts: list[dict] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.rollout_buffer
        names = ("observations", "actions", "rewards", "episode_starts", "values", "log_probs", "advantages")
        self.rollouts.append(
            {"policy": {k: v.clone() for k, v in self.model.policy.state_dict().items()}}
            | {name: getattr(buffer, name).copy() for name in names}
        )


def test_the_buffer_holds_what_the_lanes_envs_and_the_policy_gave():
    """Each lane replayed on a fresh copy of its env with the buffer's actions gives the buffer's observations,
    episode starts and rewards (plus gamma * V(final observation) on the time-limit truncations); the values are
    SB3's ``predict_values`` of the lane's observations at one torch thread (``torch.equal``), the log-probabilities
    its ``evaluate_actions``. Catches a step's data stored beside another step's action (seen red with the lanes'
    ``obs, starts = new_obs, dones`` moved before the record), the lanes joined in the wrong order (seen red with
    ``lanes`` reversed in ``joined``) and the bootstrap lost (seen red with ``bootstrap_truncated``'s added value
    multiplied by 0)."""
    snapshot = _Snapshot()
    model = PPOG("CnnPolicy", laned_env(), rollout_thread="lanes", **TINY_CNN)
    model.learn(2 * N_STEPS * 4, callback=snapshot)
    truncations = 0
    for rollout_index, data in enumerate(snapshot.rollouts):
        policy = PPOG("CnnPolicy", laned_env(), **TINY_CNN).policy
        policy.load_state_dict(data["policy"])
        policy.set_training_mode(False)
        for j in range(2):
            envs = slice(2 * j, 2 * j + 2)
            replay = lane_env(j)
            replay.seed(TINY_CNN["seed"] + 2 * j)  # the model seeds the laned env: env i gets seed + i
            obs = replay.reset()
            starts = np.ones(2, dtype=bool)
            for t in range(rollout_index * N_STEPS):  # the first rollout's steps, to reach the second's start
                obs, _, starts, _ = replay.step(snapshot.rollouts[0]["actions"][t, envs, 0].astype(np.int64))
            for t in range(N_STEPS):
                assert np.array_equal(data["observations"][t, envs], obs), (rollout_index, j, t)
                assert np.array_equal(data["episode_starts"][t, envs], starts.astype(np.float32)), (rollout_index, j, t)
                obs_tensor = th.as_tensor(obs)
                previous_threads = th.get_num_threads()
                th.set_num_threads(1)
                try:
                    with th.inference_mode():
                        values = policy.predict_values(obs_tensor).flatten()
                        actions = th.as_tensor(data["actions"][t, envs, 0]).long()
                        _, log_probs, _ = policy.evaluate_actions(obs_tensor, actions)
                finally:
                    th.set_num_threads(previous_threads)
                assert th.equal(th.as_tensor(data["values"][t, envs]), values), (rollout_index, j, t)
                assert np.allclose(data["log_probs"][t, envs], log_probs.numpy(), atol=1e-6), (rollout_index, j, t)
                obs, rewards, starts, infos = replay.step(actions.numpy())
                expected = rewards.astype(np.float32)
                for i, info in enumerate(infos):
                    if starts[i] and info.get("TimeLimit.truncated", False):
                        truncations += 1
                        terminal = policy.obs_to_tensor(info["terminal_observation"])[0]
                        with th.inference_mode():
                            expected[i] += model.gamma * policy.predict_values(terminal).item()
                assert np.allclose(data["rewards"][t, envs], expected, atol=1e-6), (rollout_index, j, t)
    assert truncations > 0, "no time-limit truncation happened: the bootstrap was not checked"


def _buffer(model) -> dict[str, np.ndarray]:
    return {name: getattr(model.rollout_buffer, name).copy() for name in ("actions", "rewards", "values", "advantages")}


def test_a_run_in_lanes_is_reproducible_from_its_seed():
    """Same seed: the same parameters and rollout (``torch.equal`` / ``np.array_equal``); another seed: other
    actions. Catches the lanes' generators seeded from anything but the model's random stream (seen red with the
    per-rollout ``th.randint`` draw replaced by ``np.random.SeedSequence().entropy``)."""
    runs = []
    for seed in (1, 1, 2):  # each built and trained in turn: SB3 seeds the process's generators at construction
        runs.append(PPOG("CnnPolicy", laned_env(), rollout_thread="lanes", **{**TINY_CNN, "seed": seed}))
        runs[-1].learn(2 * N_STEPS * 4)
    assert_same_parameters(runs[0], runs[1])
    for name, value in _buffer(runs[0]).items():
        assert np.array_equal(value, _buffer(runs[1])[name]), name
    assert not np.array_equal(_buffer(runs[0])["actions"], _buffer(runs[2])["actions"])


class _Calls(BaseCallback):
    def __init__(self, stop_at: int | None = None):
        super().__init__()
        self.stop_at = stop_at
        self.calls: list[dict] = []

    def _on_step(self) -> bool:
        self.calls.append(
            {
                "n_steps": self.locals["n_steps"],
                "dones": self.locals["dones"].copy(),
                "infos": len(self.locals["infos"]),
                "num_timesteps": self.model.num_timesteps,
                "thread": threading.current_thread().name,
            }
        )
        return self.stop_at is None or self.n_calls < self.stop_at


def test_callbacks_run_after_the_lanes_on_the_calling_thread_with_each_steps_locals():
    """``on_step`` once per step, on the calling thread, after the rollout (``num_timesteps`` at its end), each call
    with its own step's ``dones`` (the next step's episode starts in the buffer). Catches a replay that hands every
    call the last step's locals (seen red with ``values=replay[-1]`` in the callback loop)."""
    calls, snapshot = _Calls(), _Snapshot()
    model = PPOG("CnnPolicy", laned_env(), rollout_thread="lanes", **TINY_CNN)
    model.learn(2 * N_STEPS * 4, callback=[calls, snapshot])
    assert [c["n_steps"] for c in calls.calls] == list(range(1, N_STEPS + 1)) * 2
    assert {c["thread"] for c in calls.calls} == {threading.main_thread().name}
    assert [c["num_timesteps"] for c in calls.calls] == [N_STEPS * 4] * N_STEPS + [2 * N_STEPS * 4] * N_STEPS
    assert {c["infos"] for c in calls.calls} == {4}
    for rollout, data in enumerate(snapshot.rollouts):
        for t in range(N_STEPS - 1):
            assert np.array_equal(calls.calls[rollout * N_STEPS + t]["dones"], data["episode_starts"][t + 1] > 0), t
    assert _lane_threads() == []


def test_a_callback_stopping_in_the_replay_ends_training_before_the_update():
    model = PPOG("CnnPolicy", laned_env(), rollout_thread="lanes", **TINY_CNN)
    model.learn(4 * N_STEPS * 4, callback=_Calls(stop_at=N_STEPS + 5))
    assert model.num_timesteps == 2 * N_STEPS * 4  # the second rollout was collected ...
    assert model._n_updates == 1 * TINY_CNN["n_epochs"]  # ... and not trained on


class _SaveAndCrash(BaseCallback):
    def __init__(self, at_call: int, path):
        super().__init__()
        self.at_call, self.path = at_call, path

    def _on_step(self) -> bool:
        if self.n_calls == self.at_call:
            self.model.save(self.path)
            return False
        return True


def test_a_checkpoint_written_in_the_replay_resumes_exactly(tmp_path):
    """Saved in the 8th callback call of the second rollout, then loaded on the same env object: the resumed run
    ends where the uninterrupted one ends (``torch.equal`` parameters). Catches the rollout lost with the checkpoint
    (seen red with ``_rollout_in_progress`` cleared before the callbacks: the loaded model skips that rollout's
    update) and lanes that draw their seeds from anything the checkpoint does not hold."""
    total = 4 * N_STEPS * 4
    uninterrupted = PPOG("CnnPolicy", laned_env(), rollout_thread="lanes", **TINY_CNN)
    uninterrupted.learn(total)

    env = laned_env()
    crashed = PPOG("CnnPolicy", env, rollout_thread="lanes", **TINY_CNN)
    crashed.learn(total, callback=_SaveAndCrash(N_STEPS + 8, tmp_path / "model"))
    del crashed
    np.random.seed(999)
    th.manual_seed(999)  # whatever happened in between must not matter
    resumed = PPOG.load(tmp_path / "model.zip", env=env, force_reset=False)
    assert resumed.num_timesteps == 2 * N_STEPS * 4
    resumed.learn(total - resumed.num_timesteps, reset_num_timesteps=False)
    assert resumed.num_timesteps == total
    assert_same_parameters(uninterrupted, resumed)


class _FailingEnv(SmallImageEnv):
    def step(self, action):
        if self._t == 5:
            raise RuntimeError("emulator fell over")
        return super().step(action)


def test_an_error_in_a_lane_is_raised_on_the_caller_and_the_lanes_end():
    """Catches a lane's exception swallowed (seen red with ``errors.append(error)`` replaced by ``pass``: the rollout
    trains on a short buffer) and torch's thread count left at the lanes' one."""
    failing = make_vec_env(lambda: _FailingEnv(channels=4, channel_first=True), n_envs=2, seed=3)
    model = PPOG("CnnPolicy", LanedVecEnv([lane_env(0), failing]), rollout_thread="lanes", **TINY_CNN)
    threads = th.get_num_threads()
    with pytest.raises(RuntimeError, match="emulator fell over"):
        model.learn(N_STEPS * 4)
    assert th.get_num_threads() == threads
    assert _lane_threads() == []
    assert not model._rollout_in_progress


def test_a_model_saved_with_lanes_loads_on_a_plain_env_for_evaluation(tmp_path):
    model = PPOG("CnnPolicy", laned_env(), rollout_thread="lanes", **TINY_CNN)
    model.save(tmp_path / "model")
    loaded = PPOG.load(tmp_path / "model.zip", env=lane_env(0))
    assert loaded.rollout_thread == "lanes"
    with pytest.raises(ValueError, match=r"rollout_thread='lanes' needs an env in lanes"):
        loaded.learn(N_STEPS * 2)  # training on it is refused at the rollout


def test_lanes_are_refused_where_they_cannot_run_naming_the_argument():
    with pytest.raises(ValueError, match=r"rollout_thread='lanes' needs an env in lanes.*DummyVecEnv"):
        PPOG("CnnPolicy", lane_env(0), rollout_thread="lanes", **TINY_CNN)
    box = LanedVecEnv([make_vec_env("Pendulum-v1", n_envs=1, seed=s) for s in (0, 1)])
    with pytest.raises(ValueError, match=r"rollout_thread='lanes'.*not Discrete"):
        PPOG("MlpPolicy", box, rollout_thread="lanes", n_steps=16, batch_size=32)


def test_auto_means_lanes_on_a_cpu_for_an_env_in_lanes_only():
    """Catches "auto" never choosing lanes (the speed-up lost; seen red with ``_use_lanes`` returning False for it)
    or choosing them for a plain env or with fewer torch threads than lanes (seen red with that check replaced by
    ``return True``)."""
    model = PPOG("CnnPolicy", laned_env(), **TINY_CNN)
    assert model.rollout_thread == "auto" and model._use_lanes(model.env)
    for value in (True, False):
        model.rollout_thread = value
        assert not model._use_lanes(model.env)
    plain = PPOG("CnnPolicy", lane_env(0), **TINY_CNN)
    assert not plain._use_lanes(plain.env)
    model.rollout_thread = "auto"
    threads = th.get_num_threads()
    th.set_num_threads(1)  # fewer torch threads than lanes (a study's one-thread runs): not for "auto"
    try:
        assert not model._use_lanes(model.env)
    finally:
        th.set_num_threads(threads)


def test_clip_without_lanes_on_an_env_in_lanes_is_ppo_bit_for_bit():
    """The laned env is an ordinary VecEnv to SB3: PPO and PPOG (``policy_loss="clip"``, ``rollout_thread=False``)
    train to the same parameters on it. Catches a LanedVecEnv whose step or reset differs from its lanes' (they
    would still agree with each other, but not with the replay test above)."""
    kwargs = {k: v for k, v in TINY_CNN.items() if k != "device"}
    ppo = PPO("CnnPolicy", laned_env(), device="cpu", **kwargs)
    ppo.learn(2 * N_STEPS * 4)
    ppog = PPOG("CnnPolicy", laned_env(), policy_loss="clip", rollout_thread=False, device="cpu", **kwargs)
    ppog.learn(2 * N_STEPS * 4)
    assert_same_parameters(ppo, ppog)


def test_the_zoo_monitor_around_the_lanes_gets_every_game(tmp_path):
    """The zoo's env (``GameVecMonitor`` around the env in lanes) is stepped in lanes, and its monitor CSV gets one
    row per game as the callbacks saw them. Catches the wrapper's ``observe_step`` not called in the replay (seen red
    with the observer loop removed: an empty CSV) and a zoo env that silently falls back to the plain loop."""
    from stable_baselines3.common.monitor import load_results

    from ppog_sb3.zoo.fast_env import make_fast_vec_env

    options = dict(lanes=2, max_episode_steps=40)  # time-limited games: several end in each rollout
    env = make_fast_vec_env("ppog/Breakout-v5", 4, 0, options, monitor_file=str(tmp_path / "0"))
    games = []

    class _Games(BaseCallback):
        def _on_step(self) -> bool:
            games.extend((info["episode"]["r"], info["episode"]["l"]) for info in self.locals["infos"] if "episode" in info)
            return True

    model = PPOG("CnnPolicy", env, **{**TINY_CNN, "policy_kwargs": dict(features_extractor_kwargs=dict(features_dim=16))})
    assert model._use_lanes(model.env)
    model.learn(2 * N_STEPS * 4, callback=_Games())
    rows = load_results(str(tmp_path))
    assert len(games) >= 4
    assert list(zip(rows["r"], rows["l"], strict=True)) == games

"""A rollout in lanes: :func:`collect_lane_rollout`, PPOG's rollout on a :class:`~ppog_sb3.envs.lanes.LanedVecEnv`.

Why (measured: ``benchmarks/throughput.py --variants ppo ppog-fast ppog-fast-lanes``, docs/speed.md): on a CPU the
rollout alternates emulation (ale-py's C++ threads) and inference (torch's OpenMP threads) on the same cores, and
every step waits for both: the C++ env's workers wait for cores that torch's threads have just used, and torch's
threads wake up for every forward pass. On 2 cores that made the rollout 40-170% slower than emulation and inference
each alone. In lanes, each of ``k`` Python threads owns one lane (a ``VecEnv`` of its own, e.g. a C++ env on one
thread) and its share of torch's threads, and steps it ``n_steps`` times without waiting for the other lanes: a
lane's only hand-over is to its own env, and the other lane's work fills the cores meanwhile.

What it does the same: the data. The rollout buffer gets every step in order, as the one-env loop stores it (the
lanes' observations, actions, values, log-probabilities, rewards with the truncation bootstrap, episode starts side
by side), ``num_timesteps``, the episode-info buffer and the GAE are computed from them as before, and the last
values on the calling thread.

What it does differently (why it is opt-in, through the env: ``make_atari_vec_env(..., lanes=k)``):

- **Random numbers.** Lane ``j`` draws its actions from a ``torch.Generator`` of its own, seeded at each rollout's
  start from torch's default generator (one draw of ``k`` integers): a run is reproducible from its seed and a
  checkpoint resumes exactly, but the actions are not those of the one-env loop, so ``policy_loss="clip"`` is not
  bit for bit SB3 PPO on a laned env (it is on the same env with ``rollout_thread=False`` or ``True``).
- **Callbacks.** ``callback.on_step()`` runs ``n_steps`` times after the lanes' last step, with each step's
  ``infos``, ``dones``, ``rewards``, ``new_obs``, ``actions``, ``values`` and ``log_probs`` in ``callback.locals``,
  and the model at the end of the rollout (``num_timesteps``, the full buffer, ``_last_obs``): a progress bar moves
  once per rollout, a checkpoint written in one of these calls holds the whole rollout (and resumes exactly: the
  loaded model goes straight to the rollout's GAE), an ``EvalCallback`` evaluates the same policy it would have,
  and ``on_step`` returning ``False`` stops training after the rollout it was called in (before its update).
- **Threads.** Each lane runs with ``torch.get_num_threads() // k`` torch threads (at least one); the caller's
  count is set back when the lanes end. ``"auto"`` chooses lanes only where torch has a thread per lane (not in a
  study's one-thread runs). Ctrl-C (delivered to the calling thread, which waits on the lanes) stops the lanes at
  their next step and abandons the rollout (a model saved then holds no partial rollout, and its last observation is
  not the env's: continue from a checkpoint instead); an exception in a lane stops the others and is raised again on
  the calling thread.

Needs a ``Discrete`` action space and SB3's own actor-critic policy (the pass of
:func:`~ppog_sb3.common.exact_resume.categorical_forward`, with the lane's generator).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import obs_as_tensor

from ppog_sb3.common.exact_resume import _plain_categorical, bootstrap_truncated, categorical_forward

if TYPE_CHECKING:
    from ppog_sb3.common.exact_resume import ExactResumeMixin

__all__ = ["collect_lane_rollout", "find_lanes", "lanes_unsupported"]

#: the per-step values a lane records, in the order the buffer's ``add`` and the callbacks' locals need them
_FIELDS = ("obs", "actions", "values", "log_probs", "buffer_rewards", "rewards", "starts", "dones", "infos", "new_obs")


@dataclass
class _Lane:
    env: Any
    obs: np.ndarray
    starts: np.ndarray
    seed: int
    steps: dict[str, list[Any]] = field(default_factory=lambda: {name: [] for name in _FIELDS})


def find_lanes(env: Any) -> tuple[Any, list[Any]] | None:
    """The env in lanes under ``env`` and the wrappers around it (innermost first), or ``None``.

    An env in lanes is a ``VecEnv`` with ``lanes`` (its own ``VecEnv``s, env ``i`` of the whole being env
    ``i - offset`` of the lane that holds it, in order) and ``split(values)`` (per-env values cut into the lanes'
    parts), such as :class:`ppog_sb3.envs.lanes.LanedVecEnv`. Every wrapper between it and ``env`` must only watch
    the steps: have ``observe_step(obs, rewards, dones, infos)``, which its ``step_wait`` calls with what it passes
    on unchanged (the zoo's ``GameVecMonitor``). The rollout in lanes steps the lanes directly and calls each such
    wrapper's ``observe_step`` with every step, in order."""
    wrappers: list[Any] = []
    # vars(): a VecEnvWrapper forwards unknown attributes to the env it wraps, so getattr would see its lanes too
    while not (isinstance(vars(env).get("lanes"), list) and callable(getattr(type(env), "split", None))):
        if not callable(getattr(type(env), "observe_step", None)) or not hasattr(env, "venv"):
            return None
        wrappers.insert(0, env)
        env = env.venv
    return env, wrappers


def lanes_unsupported(model: ExactResumeMixin, env: Any) -> str | None:
    """Why ``model`` cannot collect its next rollout from ``env`` in lanes, or ``None`` if it can."""
    if find_lanes(env) is None:
        return (
            f"the env is {type(env).__name__}, not a LanedVecEnv (make_atari_vec_env(..., lanes=k)) in wrappers that "
            "only watch its steps"
        )
    if not isinstance(model.action_space, spaces.Discrete):
        return f"the action space is {model.action_space}, not Discrete"
    if not _plain_categorical(model.policy):
        return f"the policy {type(model.policy).__name__} is not SB3's own actor-critic policy with a categorical head"
    if model.use_sde:
        return "use_sde=True"
    return None


def collect_lane_rollout(
    model: ExactResumeMixin,
    env: Any,
    callback: BaseCallback,
    rollout_buffer: RolloutBuffer,
    n_rollout_steps: int,
) -> bool:
    """``collect_rollouts`` in lanes (module docstring): the same buffer contents, callbacks after the lanes.
    ``env``: a :class:`LanedVecEnv`, or one in wrappers that only watch its steps (``find_lanes``)."""
    assert model._last_obs is not None, "No previous observation was provided"
    found = find_lanes(env)
    assert found is not None, "collect_lane_rollout needs an env in lanes (lanes_unsupported says why not)"
    laned, observers = found
    policy = model.policy
    policy.set_training_mode(False)
    model._begin_rollout(rollout_buffer)  # no partial rollout here: the caller sends those to the one-env loop
    callback.on_rollout_start()

    # one draw from torch's default generator per rollout: reproducible from the model's seed, saved with a checkpoint
    seeds = th.randint(0, 2**62, (len(laned.lanes),), dtype=th.int64).tolist()
    lanes = [
        _Lane(lane_env, obs, starts, seed)
        for lane_env, obs, starts, seed in zip(
            laned.lanes, laned.split(model._last_obs), laned.split(model._last_episode_starts), seeds, strict=True
        )
    ]
    caller_threads = th.get_num_threads()
    lane_threads = max(1, caller_threads // len(lanes))
    stop = threading.Event()
    errors: list[BaseException] = []

    def run(lane: _Lane) -> None:
        try:
            th.set_num_threads(lane_threads)
            generator = th.Generator().manual_seed(lane.seed)
            obs, starts = lane.obs, lane.starts
            with th.inference_mode(), model._autocast():
                for _ in range(n_rollout_steps):
                    if stop.is_set():
                        return
                    obs_tensor = model._model_input(obs_as_tensor(obs, model.device))
                    action_tensor, values, log_probs = categorical_forward(policy, obs_tensor, generator)
                    actions = action_tensor.cpu().numpy()
                    new_obs, rewards, dones, infos = lane.env.step(actions)
                    buffer_rewards = bootstrap_truncated(
                        model,
                        rewards,
                        dones,
                        infos,
                        lambda terminal_obs: policy.predict_values(model._model_input(terminal_obs)).float()[0],
                    )
                    step = (
                        obs,
                        actions,
                        values.float(),
                        log_probs.float(),
                        buffer_rewards,
                        rewards,
                        starts,
                        dones,
                        infos,
                        new_obs,
                    )
                    for name, value in zip(_FIELDS, step, strict=True):
                        lane.steps[name].append(value)
                    obs, starts = new_obs, dones
        except BaseException as error:  # noqa: BLE001 - raised again on the calling thread
            errors.append(error)
            stop.set()

    threads = [threading.Thread(target=run, args=(lane,), name=f"ppog-lane-{j}", daemon=True) for j, lane in enumerate(lanes)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except BaseException:  # Ctrl-C while waiting: the rollout is abandoned (a save now holds no partial rollout)
        model._end_rollout()
        raise
    finally:  # the lanes stop at their next step
        stop.set()
        for thread in threads:
            thread.join()
        th.set_num_threads(caller_threads)
    if errors:
        model._end_rollout()
        raise errors[0]

    def joined(name: str, step: int) -> Any:
        parts = [lane.steps[name][step] for lane in lanes]
        if name == "infos":
            return [info for part in parts for info in part]
        return th.cat(parts) if isinstance(parts[0], th.Tensor) else np.concatenate(parts)

    replay = []
    for step in range(n_rollout_steps):
        values = {name: joined(name, step) for name in _FIELDS}
        model._check_rollout_observations(values["obs"])
        model.num_timesteps += env.num_envs
        model._update_info_buffer(values["infos"], values["dones"])
        for observer in observers:  # e.g. the zoo's monitor CSV, as if the step had passed through it
            observer.observe_step(values["new_obs"], values["rewards"], values["dones"], values["infos"])
        actions = values["actions"].reshape(-1, 1)
        rollout_buffer.add(
            values["obs"], actions, values["buffer_rewards"], values["starts"], values["values"], values["log_probs"]
        )
        replay.append(values)
    model._last_obs = replay[-1]["new_obs"]
    model._last_episode_starts = replay[-1]["dones"]

    for n_steps, values in enumerate(replay, start=1):
        callback.update_locals(
            {
                "self": model,
                "env": env,
                "callback": callback,
                "rollout_buffer": rollout_buffer,
                "n_rollout_steps": n_rollout_steps,
                "n_steps": n_steps,
                "clipped_actions": values["actions"],
                **{name: values[name] for name in ("actions", "values", "log_probs", "rewards", "dones", "infos", "new_obs")},
            }
        )
        if not callback.on_step():
            model._end_rollout()
            return False

    with th.inference_mode(), model._autocast():
        last_values = policy.predict_values(model._model_input(obs_as_tensor(model._last_obs, model.device))).float()
    rollout_buffer.compute_returns_and_advantage(last_values=last_values, dones=model._last_episode_starts)
    model._end_rollout()
    callback.update_locals({"self": model, "env": env, "rollout_buffer": rollout_buffer, "values": last_values})
    callback.on_rollout_end()
    return True

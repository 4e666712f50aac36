"""Exact resume and crash-safe model files for any SB3 ``OnPolicyAlgorithm``: :class:`ExactResumeMixin`.

``class MyPPO(ExactResumeMixin, PPO)`` gets:

- **Atomic saves.** ``save(path)`` writes a temporary file in the same folder, fsyncs it and renames it over the
  target: a process killed mid-save leaves the previous file intact.
- **The model's random streams.** ``save`` stores the random-number-generator states (python, numpy, torch, the
  action space). ``load`` keeps them *on the model* and leaves the process alone: SB3's own ``load`` reseeds the
  process's generators with the model's ``seed`` (python, numpy, torch and every CUDA generator, queued until CUDA
  starts if it has not) and, for a CUDA device, sets cuDNN's ``deterministic`` on and ``benchmark`` off; here it seeds
  only what is the model's (its action space and env, as SB3 does), and the draws of building the policy are undone.
  An evaluation script that loads a model keeps its own random streams and cuDNN mode. The saved states are put back
  only where exact resume needs them: at the next ``learn(..., reset_num_timesteps=False)`` that continues the saved
  run on the loaded env state (``load(..., force_reset=False)``); a new run, an env reset or ``set_random_seed`` (an
  explicit seed wins) discards them.
- **Partial rollouts.** A save during a rollout (by a callback: ``CheckpointCallback``, the zoo's ``--save-freq``)
  also stores the steps collected so far, and the loaded model continues that rollout. The mixin's
  ``collect_rollouts`` (SB3's loop, with ``callback.on_step()`` after ``rollout_buffer.add``) does this; an algorithm
  with a loop of its own calls :meth:`ExactResumeMixin._begin_rollout` / :meth:`_end_rollout` the same way.
- **Model-file checks.** ``load`` of something that is not a complete model archive, or of a model saved by another
  algorithm (the class's ``_model_file_keys`` are missing), raises a ``ValueError`` saying so.

So ``Algo.load(path, env=env, force_reset=False).learn(n, reset_num_timesteps=False)`` on the same env object ends
bit for bit where the uninterrupted run ends. SB3 model files are pickles: load only files you trust.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import os
import pathlib
import random
import warnings
import zipfile
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.distributions import CategoricalDistribution
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from ppog_sb3.common.rollout_thread import ForwardThread

SelfResume = TypeVar("SelfResume", bound="ExactResumeMixin")

#: True while :meth:`ExactResumeMixin.load` runs (SB3's load calls ``set_random_seed`` from ``_setup_model``).
_LOADING: contextvars.ContextVar[bool] = contextvars.ContextVar("ppog_sb3_loading", default=False)

PARTIAL_ROLLOUT_MEMBER = "partial_rollout.npz"
PARTIAL_ROLLOUT_FIELDS = ("observations", "actions", "rewards", "episode_starts", "values", "log_probs")


class ExactResumeMixin(OnPolicyAlgorithm):
    """Exact resume, model-random-state ownership and atomic saves for an ``OnPolicyAlgorithm`` (module docstring)."""

    #: Keys of the saved ``data`` that only this algorithm writes: a file without them was saved by another one.
    _model_file_keys: ClassVar[tuple[str, ...]] = ()
    #: What to call to move another algorithm's weights in, for the error message about such a file.
    _foreign_model_hint: ClassVar[str] = "Load it with the class that saved it."

    _rollout_in_progress: bool = False
    _resume_rollout: dict[str, np.ndarray] | None = None
    _pending_rng_states: dict[str, Any] | None = None

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_rollout_in_progress", "_resume_rollout", "_pending_rng_states"]

    # ------------------------------------------------------------------ rollouts
    def _begin_rollout(self, rollout_buffer: RolloutBuffer) -> int:
        """Reset the buffer, refill it from a loaded partial rollout if there is one; return the steps restored."""
        resume, self._resume_rollout = self._resume_rollout, None
        rollout_buffer.reset()
        n_steps = restore_partial_rollout(rollout_buffer, resume) if resume is not None else 0
        self._rollout_in_progress = True
        return n_steps

    def _end_rollout(self) -> None:
        self._rollout_in_progress = False

    # hooks of the rollout loop, for subclasses
    def _autocast(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def _model_input(self, obs: Any) -> Any:
        return obs

    def _check_rollout_observations(self, obs: Any) -> None:
        pass

    def _use_rollout_thread(self) -> bool:
        """Whether the forward passes of this rollout run on a worker thread (:mod:`ppog_sb3.common.rollout_thread`)."""
        return False

    def _rollout_forward(self, obs: Any) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """The rollout step's forward pass: ``policy(obs)``, or for SB3's own actor-critic policies with a
        ``Discrete`` action space the same numbers without the distribution objects (:func:`categorical_forward`)."""
        if _plain_categorical(self.policy):
            return categorical_forward(self.policy, obs)
        return self.policy(obs)

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        """SB3's rollout loop (same random-number use, same data), with these changes:

        - ``callback.on_step()`` runs after the step is stored in the buffer, so a checkpoint written by a
          callback (``CheckpointCallback``, the zoo's ``--save-freq``) holds a consistent state: ``save`` adds
          the part of the rollout collected so far, and a loaded model continues that rollout exactly;
        - forward passes under ``inference_mode``, inside the hooks ``_autocast()`` and ``_model_input()`` (no-ops
          here; PPOG's bf16 autocast and channels-last input), and ``_check_rollout_observations`` before each step;
        - the forward passes run on a worker thread for the rollout's span where ``_use_rollout_thread()`` says so
          (same numbers; :mod:`ppog_sb3.common.rollout_thread` says why).
        """
        assert self._last_obs is not None, "No previous observation was provided"
        self.policy.set_training_mode(False)

        n_steps = self._begin_rollout(rollout_buffer)  # a loaded checkpoint's partial rollout, if any
        # gSDE noise is not part of a checkpoint: a rollout resumed mid-way keeps the noise sampled at load
        if self.use_sde and n_steps == 0:
            self.policy.reset_noise(env.num_envs)

        callback.on_rollout_start()

        def forward(last_obs: Any) -> tuple[np.ndarray, th.Tensor, th.Tensor]:
            with th.inference_mode(), self._autocast():
                obs_tensor = self._model_input(obs_as_tensor(last_obs, self.device))
                action_tensor, values, log_probs = self._rollout_forward(obs_tensor)
            return action_tensor.cpu().numpy(), values.float(), log_probs.float()

        def predict_values(obs_tensor: th.Tensor) -> th.Tensor:
            with th.inference_mode(), self._autocast():
                return self.policy.predict_values(self._model_input(obs_tensor)).float()

        with ForwardThread(self._use_rollout_thread()) as run:
            while n_steps < n_rollout_steps:
                if self.use_sde and self.sde_sample_freq > 0 and n_steps % self.sde_sample_freq == 0:
                    self.policy.reset_noise(env.num_envs)

                self._check_rollout_observations(self._last_obs)
                actions, values, log_probs = run(forward, self._last_obs)

                clipped_actions = actions
                if isinstance(self.action_space, spaces.Box):
                    if self.policy.squash_output:
                        clipped_actions = self.policy.unscale_action(clipped_actions)
                    else:
                        clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)

                new_obs, rewards, dones, infos = env.step(clipped_actions)

                self.num_timesteps += env.num_envs
                self._update_info_buffer(infos, dones)
                n_steps += 1

                if isinstance(self.action_space, spaces.Discrete):
                    actions = actions.reshape(-1, 1)

                # The buffer gets the bootstrapped rewards; callbacks still see the env's own `rewards`.
                buffer_rewards = bootstrap_truncated(
                    self, rewards, dones, infos, lambda terminal_obs: run(predict_values, terminal_obs)[0]
                )

                rollout_buffer.add(
                    self._last_obs,  # type: ignore[arg-type]
                    actions,
                    buffer_rewards,
                    self._last_episode_starts,  # type: ignore[arg-type]
                    values,
                    log_probs,
                )
                self._last_obs = new_obs  # type: ignore[assignment]
                self._last_episode_starts = dones

                callback.update_locals(locals())
                if not callback.on_step():
                    self._end_rollout()
                    return False

            values = run(predict_values, obs_as_tensor(self._last_obs, self.device))  # type: ignore[arg-type]

        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=self._last_episode_starts)  # type: ignore[arg-type]
        self._end_rollout()

        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    # ------------------------------------------------------------------ learn
    def _setup_learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        reset_num_timesteps: bool = True,
        tb_log_name: str = "run",
        progress_bar: bool = False,
    ) -> tuple[int, BaseCallback]:
        pending, self._pending_rng_states = self._pending_rng_states, None
        if reset_num_timesteps or self._last_obs is None:
            # a new run, or the env is reset: the saved random streams and partial rollout do not apply
            self._resume_rollout = None
        elif pending is not None:
            restore_rng_states(pending, self.action_space)
        return super()._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)

    def set_random_seed(self, seed: int | None = None) -> None:
        """SB3's, except inside :meth:`load`: there only the model's own action space and env are seeded (SB3's two
        last steps), not the process (its python, numpy, torch and CUDA generators, its cuDNN flags)."""
        self._pending_rng_states = None  # an explicit seed wins over the loaded model's streams
        if not _LOADING.get():
            super().set_random_seed(seed)
        elif seed is not None:
            self.action_space.seed(seed)
            if self.env is not None:
                self.env.seed(seed)

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | pathlib.Path | io.BufferedIOBase, exclude: Any = None, include: Any = None) -> None:
        """SB3's ``save`` plus the random-number-generator states, written atomically for file paths (to a temporary
        file in the same folder, fsynced, then renamed over the target); during a rollout, plus the steps so far."""
        self._rng_states = capture_rng_states(self.action_space)
        try:
            if not isinstance(path, (str, os.PathLike)):
                super().save(path, exclude=exclude, include=include)
                return
            final = pathlib.Path(path)
            if final.suffix == "":
                final = final.with_name(final.name + ".zip")  # SB3's save adds .zip the same way
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
            try:
                super().save(tmp, exclude=exclude, include=include)
                if self._rollout_in_progress:
                    append_partial_rollout(tmp, self.rollout_buffer)
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, final)
            finally:
                if tmp.exists():
                    tmp.unlink()
        finally:
            del self._rng_states

    @classmethod
    def load(cls: type[SelfResume], path: Any, env: GymEnv | None = None, *args: Any, **kwargs: Any) -> SelfResume:
        """SB3's ``load`` after checking the file; the saved random streams stay on the model (module docstring).

        Pass ``force_reset=False`` (with the same env object) to continue the interrupted episode exactly;
        SB3's default ``force_reset=True`` resets the env at the next ``learn()`` (SB3 issue #1024).
        """
        if isinstance(path, (str, os.PathLike)):
            path = check_model_file(path, cls._model_file_keys, cls.__name__, cls._foreign_model_hint)
        process_states = capture_rng_states()
        loading = _LOADING.set(True)  # SB3's load would reseed the process (_setup_model -> set_random_seed)
        try:
            model = super().load(path, env, *args, **kwargs)
        finally:
            _LOADING.reset(loading)
            restore_rng_states(process_states)  # building the policy draws its initial weights: undone
        if isinstance(path, pathlib.Path):
            model._resume_rollout = read_partial_rollout(path)
        model._pending_rng_states = model.__dict__.pop("_rng_states", None)
        return model


# ---------------------------------------------------------------------- random streams
def capture_rng_states(action_space: spaces.Space | None = None) -> dict[str, Any]:
    """The process's generators (python, numpy, torch, CUDA) and, if given, the action space's."""
    states: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": th.get_rng_state()}
    if action_space is not None:
        states["action_space"] = action_space.np_random.bit_generator.state
    if th.cuda.is_available() and th.cuda.is_initialized():
        states["torch_cuda"] = th.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any], action_space: spaces.Space | None = None) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    th.set_rng_state(states["torch"])
    if action_space is not None and "action_space" in states:
        action_space.np_random.bit_generator.state = states["action_space"]
    if "torch_cuda" in states and th.cuda.is_available():
        th.cuda.set_rng_state_all(states["torch_cuda"])


# ---------------------------------------------------------------------- partial rollouts
def append_partial_rollout(zip_path: pathlib.Path, buffer: RolloutBuffer) -> None:
    """Add the ``buffer.pos`` steps collected so far to a saved model archive.

    A buffer with arrays of other lengths (e.g. :class:`~ppog_sb3.common.frame_buffer.FrameStackRolloutBuffer`'s
    frames) names them and their lengths in ``checkpoint_lengths()``."""
    if buffer.pos == 0:
        return
    lengths = buffer.checkpoint_lengths() if hasattr(buffer, "checkpoint_lengths") else {}
    arrays = {}
    for name in (*PARTIAL_ROLLOUT_FIELDS, *lengths):
        value, length = getattr(buffer, name), lengths.get(name, buffer.pos)
        if isinstance(value, dict):  # DictRolloutBuffer observations
            arrays.update({f"{name}/{key}": array[:length] for key, array in value.items()})
        else:
            arrays[name] = value[:length]
    payload = io.BytesIO()
    np.savez(payload, **arrays)
    with zipfile.ZipFile(zip_path, "a") as archive:
        archive.writestr(PARTIAL_ROLLOUT_MEMBER, payload.getvalue())


def read_partial_rollout(path: pathlib.Path) -> dict[str, np.ndarray] | None:
    with zipfile.ZipFile(path) as archive:
        if PARTIAL_ROLLOUT_MEMBER not in archive.namelist():
            return None
        with np.load(io.BytesIO(archive.read(PARTIAL_ROLLOUT_MEMBER)), allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}


def _plain_categorical(policy: Any) -> bool:
    """Whether ``policy`` is SB3's ``ActorCriticPolicy`` forward pass over SB3's categorical distribution, unchanged
    (no subclass overriding the pass or the distribution, no forward hook on the policy itself)."""
    return (
        isinstance(policy, ActorCriticPolicy)
        and type(policy).forward is ActorCriticPolicy.forward
        and type(policy)._get_action_dist_from_latent is ActorCriticPolicy._get_action_dist_from_latent
        and type(policy.action_dist) is CategoricalDistribution
        and not policy._forward_hooks
        and not policy._forward_pre_hooks
    )


def categorical_forward(
    policy: ActorCriticPolicy, obs: th.Tensor, generator: th.Generator | None = None
) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """``ActorCriticPolicy.forward(obs)`` for a categorical policy, bit for bit (the same operations in the same order,
    the same random draw), without building ``torch.distributions.Categorical``: its construction, argument
    validation and ``log_prob`` bookkeeping cost about a third of a forward pass of a small network (MinAtar's:
    0.36 -> 0.23 ms per step of 8 envs on one CPU thread, the inference bound of ``benchmarks/throughput.py
    --threads 1 --variants minatar-ppo minatar-ppog``). Checked against the policy's own forward pass by
    ``tests/test_equivalence.py``. ``generator``: the actions drawn from it instead of torch's default generator
    (the lanes of :mod:`ppog_sb3.common.lane_rollout`)."""
    features = policy.extract_features(obs)
    if policy.share_features_extractor:
        latent_pi, latent_vf = policy.mlp_extractor(features)
    else:
        pi_features, vf_features = features
        latent_pi = policy.mlp_extractor.forward_actor(pi_features)
        latent_vf = policy.mlp_extractor.forward_critic(vf_features)
    values = policy.value_net(latent_vf)
    logits = policy.action_net(latent_pi)
    log_pmf = logits - logits.logsumexp(dim=-1, keepdim=True)  # Categorical(logits=...).logits
    probs = th.softmax(log_pmf, dim=-1)  # .probs
    actions = th.multinomial(probs.reshape(-1, probs.shape[-1]), 1, True, generator=generator).T.reshape(
        probs.shape[:-1]
    )  # .sample()
    log_prob = log_pmf.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)  # .log_prob(actions)
    shape = policy.action_space.shape or ()
    return actions.reshape((-1, *shape)), values, log_prob


def bootstrap_truncated(
    model: OnPolicyAlgorithm, rewards: np.ndarray, dones: np.ndarray, infos: list[dict], value_of: Any
) -> np.ndarray:
    """``rewards`` with ``gamma * V(final observation)`` added where an episode was truncated (time limit): SB3 issue
    #633. ``value_of(obs_tensor)`` is the value of one terminal observation (the caller's forward pass, on its thread).
    One forward pass per truncated env, exactly as SB3 does: a batched pass rounds differently on CPUs (~3e-8 for a
    CNN), which would break the bit-for-bit equality of policy_loss="clip" with PPO. Truncations are rare (Atari:
    one per 27,000 steps), so this costs nothing measurable. ``rewards`` itself is left as it is (a copy is returned
    where anything was added). ``infos[idx]`` is read only where done, as SB3: a VecEnv may return no infos on a step
    without episode ends."""
    buffer_rewards = rewards
    for idx in np.flatnonzero(dones):
        info = infos[idx]
        if info.get("terminal_observation") is not None and info.get("TimeLimit.truncated", False):
            if buffer_rewards is rewards:
                buffer_rewards = rewards.copy()
            terminal_obs = model.policy.obs_to_tensor(info["terminal_observation"])[0]
            buffer_rewards[idx] += model.gamma * value_of(terminal_obs)
    return buffer_rewards


def restore_partial_rollout(buffer: RolloutBuffer, arrays: dict[str, np.ndarray]) -> int:
    """Copy a checkpoint's partial rollout into a freshly reset buffer; return the number of steps restored."""
    pos = len(arrays["rewards"])
    if pos > buffer.buffer_size or arrays["rewards"].shape[1:] != (buffer.n_envs,):
        warnings.warn(
            f"The checkpoint's partial rollout ({arrays['rewards'].shape[0]} steps x {arrays['rewards'].shape[1]} envs) "
            f"does not fit this model's buffer (n_steps={buffer.buffer_size}, n_envs={buffer.n_envs}): starting a new rollout."
        )
        return 0
    for name, array in arrays.items():
        field, _, key = name.partition("/")
        target = getattr(buffer, field)
        (target[key] if key else target)[: len(array)] = array
    buffer.pos = pos
    buffer.full = pos == buffer.buffer_size
    return pos


# ---------------------------------------------------------------------- model files
def check_model_file(path: str | os.PathLike, required_keys: tuple[str, ...], algo_name: str, hint: str) -> pathlib.Path:
    """Resolve ``path`` as SB3 does (``.zip`` may be omitted) and check that it is a complete model archive whose
    data has ``required_keys`` (written by ``algo_name`` only)."""
    resolved = pathlib.Path(path)
    if not resolved.exists() and resolved.suffix != ".zip":
        resolved = resolved.with_name(resolved.name + ".zip")
    if not resolved.exists():
        raise FileNotFoundError(f"No model file at {path!s} (nor {resolved!s}).")
    try:
        with zipfile.ZipFile(resolved) as archive:
            names = set(archive.namelist())
            bad_member = archive.testzip()  # CRC of every member: catches truncated or corrupted files
            if bad_member is not None:
                raise ValueError(f"{resolved} is corrupted: member {bad_member!r} fails its checksum.")
            if not {"data", "policy.pth"} <= names:
                raise ValueError(f"{resolved} is a zip archive but not a Stable-Baselines3 model (members: {sorted(names)}).")
            data = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, EOFError, json.JSONDecodeError) as error:
        # "wasn't a zip-file": SB3's own words for it (its tests and users' code match them)
        what = f"it wasn't a zip-file ({error})" if isinstance(error, zipfile.BadZipFile) else str(error)
        raise ValueError(
            f"{resolved} is not a model file: {what}. It may be truncated (an interrupted copy or save) or not a model."
        ) from None
    missing = [key for key in required_keys if key not in data]
    if missing:
        raise ValueError(
            f"{resolved} was not saved by {algo_name} (no {', '.join(missing)} field): it was saved by another algorithm "
            f"(e.g. SB3's PPO). {hint}"
        )
    return resolved

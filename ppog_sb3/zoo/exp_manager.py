"""``PPOGExperimentManager``: the zoo's ``ExperimentManager`` with PPOG's default config and argument checks, the
fast env for the plugin's ids, ``progress.csv``, resumable runs and the Optuna search of
:class:`~ppog_sb3.zoo.optuna_study.OptunaSearch`. What each changes: ``docs/zoo.md``.
"""

from __future__ import annotations

import inspect
import os
import re
from typing import Any

import yaml
from rl_zoo3.exp_manager import ExperimentManager
from rl_zoo3.utils import ALGOS, get_latest_run_id
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnv

from ppog_sb3.envs import is_plugin_id
from ppog_sb3.ppog import PPOG, arguments
from ppog_sb3.zoo import fast_env, optuna_study, restart_resume
from ppog_sb3.zoo.callbacks import PROGRESS_CSV, ProgressCSVCallback
from ppog_sb3.zoo.configs import default_config
from ppog_sb3.zoo.errors import ZooError
from ppog_sb3.zoo.optuna_study import OptimizationSettings, OptunaSearch, redact_url

__all__ = ["PPOGExperimentManager", "ProgressCSVCallback", "ZooError", "OptimizationSettings"]

#: Keyword arguments the zoo passes to every model itself (from its own flags): not allowed in a config.
ZOO_MANAGED_KWARGS = ("env", "tensorboard_log", "seed", "verbose", "device")

#: PPOG's constructor: its arguments are what a ppog config may set, its defaults complete a config for the checks.
PPOG_SIGNATURE = inspect.signature(PPOG)


# ---------------------------------------------------------------------- the manager
class PPOGExperimentManager(OptunaSearch):
    """The zoo's ExperimentManager plus PPOG's checks, default SQLite study, heartbeat and strict trial cap.

    See the module docstring for what changes; every argument is the zoo's.
    """

    def __init__(
        self,
        args: Any,
        algo: str,
        env_id: str,
        log_folder: str,
        *pos_args: Any,
        settings: OptimizationSettings | None = None,
        checkpoint_freq: int = 0,
        resume: bool = False,
        **kwargs: Any,
    ) -> None:
        """The zoo's arguments, plus ``settings``: ``ppog-zoo train``'s own options of the Optuna search, and
        ``checkpoint_freq`` / ``resume``: resumable runs (:mod:`ppog_sb3.zoo.restart_resume`)."""
        if kwargs.get("config") is None:
            kwargs["config"] = default_config(algo)  # --algo ppog without -conf: the package's zoo_configs/ppog.yml
        super().__init__(args, algo, env_id, log_folder, *pos_args, **kwargs)
        if checkpoint_freq < 0:
            raise ZooError(f"--checkpoint-freq={checkpoint_freq} must be >= 0 (agent steps; 0: no checkpoints)")
        self.checkpoint_freq = checkpoint_freq
        self._resume_from: restart_resume.Checkpoint | None = None
        self._monitor_clock = 0.0  # seconds at which a resumed run's monitor clocks start
        if resume:
            self._set_up_resume()
        # Config section lookup (the zoo's `_is_atari`): ALE ids only. The plugin's ids are Atari for evaluation
        # (is_atari below) but must not get the "atari" section's AtariWrapper and frame_stack.
        self._is_atari = ExperimentManager.is_atari(env_id) and not is_plugin_id(env_id)
        self._set_up_search(settings)

    # ------------------------------------------------------------------ envs and logging
    def _fast_env_kwargs(self, eval_env: bool) -> dict[str, Any]:
        """``env_kwargs`` of the training or evaluation env on the fast path.

        Decision: without ``--eval-env-kwargs`` the evaluation env gets the final training ``env_kwargs`` (config
        section included). The zoo's stated intent is the same, but it binds the evaluation env to the command
        line's ``--env-kwargs`` before the config's ``env_kwargs`` are read, and an evaluation env with other frame
        options than the training env would not even fit the policy.
        """
        explicit = getattr(self, "_eval_env_kwargs_args", None)
        if eval_env and explicit is not None:
            return dict(explicit)
        return dict(self.env_kwargs)

    def create_envs(self, n_envs: int, eval_env: bool = False, no_log: bool = False) -> VecEnv:
        """The zoo's envs; for ``ppog/<Game>-v5`` ids the fast C++ vector env (see :mod:`ppog_sb3.zoo.fast_env`)."""
        env_id = self.env_name.gym_id
        log_dir = None if eval_env or no_log else self.save_path
        # --resume: the training env's monitor files continue their clock (restart_resume.prepare_resume)
        clock = self._monitor_clock if log_dir and self._resume_from is not None else 0.0
        if not is_plugin_id(env_id):
            zoo_env = super().create_envs(n_envs, eval_env=eval_env, no_log=no_log)
            if clock:
                restart_resume.continue_monitor_clocks(zoo_env, clock)
            return zoo_env
        options = fast_env.fast_env_options(env_id, self._fast_env_kwargs(eval_env), self.frame_stack)
        if eval_env:  # lanes (env_kwargs lanes: k) are for PPOG's training rollouts; evaluation steps one env
            options.pop("lanes", None)
        info_keywords = tuple(self.monitor_kwargs.get("info_keywords", ()))
        monitor_file = os.path.join(log_dir, fast_env.MONITOR_NAME) if log_dir else None
        env: VecEnv = fast_env.make_fast_vec_env(
            env_id,
            n_envs,
            self.seed,
            options,
            monitor_file=monitor_file,
            info_keywords=info_keywords,
            override_existing=bool(self.monitor_kwargs.get("override_existing", True)),
            time_offset=clock,
        )
        if self.verbose > 0:
            frames = (env.observation_space.shape or (0,))[0]
            print(
                f"Fast path: {env_id} as one ale-py C++ vector env with {n_envs} emulator(s), {frames} frames stacked "
                f"in C++, game-level monitor{' ' + monitor_file + '.monitor.csv' if monitor_file else ''}"
            )
            if self.vec_env_class is SubprocVecEnv and not eval_env:
                print(f"Note: --vec-env subproc does not apply to {env_id} (the C++ env runs its own worker threads)")
        if self.vec_env_wrapper is not None:
            env = self.vec_env_wrapper(env)
        return self._maybe_normalize(env, eval_env)

    def learn(self, model: BaseAlgorithm) -> None:
        """The zoo's ``learn``, with SB3's logger also writing ``<run folder>/progress.csv`` (module docstring), and
        the checkpoints of ``--checkpoint-freq``; after ``--resume`` it trains the rest of the run."""
        progress = os.path.join(self.save_path, PROGRESS_CSV)
        resumed = self._resume_from
        self.callbacks.append(ProgressCSVCallback(progress, append=resumed is not None))
        if self.checkpoint_freq > 0:
            saver = restart_resume.ResumeCheckpointCallback(self.save_path, self.checkpoint_freq, progress, resumed)
            self.callbacks.append(saver)
        if resumed is None:
            super().learn(model)
            return
        remaining = self.n_timesteps - model.num_timesteps
        print(f"Resuming {self.save_path} at step {model.num_timesteps}: {max(remaining, 0)} steps to go")
        if remaining <= 0:
            return
        # The zoo's learn() with the remaining steps and reset_num_timesteps=False (same flags, same clean-up)
        kwargs: dict[str, Any] = {"callback": self.callbacks}
        if self.log_interval > -1:
            kwargs["log_interval"] = self.log_interval
        elif self.log_interval < -1:
            kwargs["log_interval"] = None
        try:
            model.learn(remaining, reset_num_timesteps=False, **kwargs)
        except KeyboardInterrupt:
            pass
        finally:
            self.callbacks[0].on_training_end()
            try:
                assert model.env is not None
                model.env.close()
            except EOFError:
                pass

    # ------------------------------------------------------------------ resumable runs
    def _set_up_resume(self) -> None:
        """``--resume``: continue the latest run folder of this env from its checkpoint (module docstring of
        :mod:`ppog_sb3.zoo.restart_resume`)."""
        if self.optimize_hyperparameters:
            raise ZooError("--resume does not apply to -optimize (a search resumes from its Optuna storage)")
        if self.continue_training:
            raise ZooError("--resume continues a run from its own checkpoint: do not pass -i/--trained-agent with it")
        latest = get_latest_run_id(self.log_path, self.env_name)
        run_dir = os.path.join(self.log_path, f"{self.env_name}_{latest}")
        checkpoint = restart_resume.read_checkpoint(run_dir) if latest > 0 else None
        if checkpoint is None:
            raise ZooError(
                f"--resume: no checkpoint in {run_dir if latest > 0 else self.log_path} "
                f"(a run writes one with --checkpoint-freq; without one, train from the start)"
            )
        self._resume_from = checkpoint
        self.save_path = run_dir
        self.params_path = os.path.join(run_dir, self.env_name)
        # The zoo's continue-training path builds the env, then calls _load_pretrained_agent (below) instead of
        # creating a model; its VecNormalize loading looks next to this file (the checkpoint writes it there)
        self.continue_training = True
        self.trained_agent = str(checkpoint.model_path)
        self.seed = restart_resume.resumed_seed(self.seed, checkpoint.resumes + 1)  # type: ignore[assignment]

    def create_log_folder(self) -> None:
        if self._resume_from is not None:
            # before the envs exist: their monitor files continue after the checkpoint's rows
            self._monitor_clock = restart_resume.prepare_resume(self._resume_from, os.path.join(self.save_path, PROGRESS_CSV))
            self.monitor_kwargs = {**self.monitor_kwargs, "override_existing": False}
        super().create_log_folder()

    def _load_pretrained_agent(self, hyperparams: dict[str, Any], env: VecEnv) -> BaseAlgorithm:
        if self._resume_from is None:
            return super()._load_pretrained_agent(hyperparams, env)
        # Decision: no hyperparameters on top of the checkpoint (the zoo's -i passes them to load): the checkpoint
        # holds the run's own, schedules' progress included; the config may only have been reread unchanged.
        model = ALGOS[self.algo].load(
            self.trained_agent, env=env, tensorboard_log=self.tensorboard_log, verbose=self.verbose, device=self.device
        )
        model.set_random_seed(self.seed)  # (seed, number of resumes): a resume is deterministic
        return model

    # ------------------------------------------------------------------ Atari detection
    @staticmethod
    def is_atari(env_id: str) -> bool:
        """ALE ids (the zoo's test) and the plugin's fast-path ids (for evaluation and enjoy/record_video)."""
        return ExperimentManager.is_atari(env_id) or is_plugin_id(env_id)

    # ------------------------------------------------------------------ hyperparameters
    def read_hyperparameters(self) -> tuple[dict[str, Any], dict[str, Any]]:
        if not os.path.exists(self.config) and self.config.endswith((".yml", ".yaml", ".py")):
            raise ZooError(f"config file not found: {self.config}")
        if is_plugin_id(self.env_name.gym_id) and self.config.endswith((".yml", ".yaml")):
            sections = self._config_sections()
            if sections is not None and self.env_name.gym_id not in sections:
                raise ZooError(
                    f"{self.config} has no section for {self.env_name.gym_id}: the plugin's fast-path ids need their own "
                    "(copy the ppog/SpaceInvaders-v5 one of zoo_configs/ppog.yml), because the generic 'atari' section "
                    "adds AtariWrapper and frame_stack, which these envs already apply"
                )
        try:
            return super().read_hyperparameters()
        except yaml.YAMLError as error:
            raise ZooError(f"cannot parse {self.config}: {' '.join(str(error).split())}") from error
        except (KeyError, IndexError) as error:
            if self.storage and self.study_name and self.trial_id is not None:
                raise ZooError(
                    f"cannot load trial {self.trial_id} of study '{self.study_name}' from {redact_url(self.storage)}: "
                    f"{optuna_study.first_line(error)}"
                ) from error
            raise

    @staticmethod
    def _preprocess_schedules(hyperparams: dict[str, Any]) -> dict[str, Any]:
        for key in ("learning_rate", "clip_range", "clip_range_vf", "delta_std"):
            value = hyperparams.get(key)
            malformed = isinstance(value, str) and not re.fullmatch(r"[A-Za-z]+_[-+0-9.eE]+", value.strip())
            if malformed or (value is not None and not isinstance(value, (str, int, float))):
                raise ZooError(f"invalid {key}={value!r}: expected a number or a linear schedule string such as 'lin_0.001'")
        try:
            return ExperimentManager._preprocess_schedules(hyperparams)
        except (TypeError, ValueError) as error:
            raise ZooError(f"invalid schedule: {error}") from error

    def _preprocess_hyperparams(self, hyperparams: dict[str, Any]) -> Any:
        if "n_timesteps" not in hyperparams:
            if self.n_timesteps <= 0:
                raise ZooError(
                    f"no n_timesteps for {self.algo} on {self.env_name.gym_id}: "
                    f"set it in {self.config} or pass -n/--n-timesteps"
                )
            hyperparams["n_timesteps"] = self.n_timesteps  # the zoo deletes the key unconditionally
        result = super()._preprocess_hyperparams(hyperparams)
        if self.algo == "ppog":
            self._check_ppog_hyperparams(result[0])
        self._check_fast_path_settings(env_wrapper=result[1])
        return result

    def _check_fast_path_settings(self, env_wrapper: Any) -> None:
        """Up-front errors for settings the fast env cannot take (instead of a failure at env creation)."""
        env_id = self.env_name.gym_id
        if not is_plugin_id(env_id):
            return
        fast_env.check_no_env_wrapper(env_id, env_wrapper)
        fast_env.check_normalize(env_id, self.normalize, self.normalize_kwargs)
        fast_env.fast_env_options(env_id, self._fast_env_kwargs(eval_env=False), self.frame_stack)
        fast_env.fast_env_options(env_id, self._fast_env_kwargs(eval_env=True), self.frame_stack)

    def _source(self, key: str) -> str:
        """Where a hyperparameter came from, for error messages."""
        if self.custom_hyperparams and key in self.custom_hyperparams:
            return "-params"
        section = None
        sections = self._config_sections()
        if sections is not None:
            if self.env_name.gym_id in sections:
                section = self.env_name.gym_id
            elif self._is_atari and "atari" in sections:
                section = "atari"
            elif "default" in sections:
                section = "default"
        return f"{self.config} [{section}]" if section else self.config

    def _config_sections(self) -> dict[str, Any] | None:
        """The sections of a YAML config (None for Python configs or an unreadable file)."""
        if not self.config.endswith((".yml", ".yaml")):
            return None
        try:
            with open(self.config) as file:
                sections = yaml.safe_load(file)
        except (OSError, yaml.YAMLError):
            return None
        return sections if isinstance(sections, dict) else None

    def _check_ppog_hyperparams(self, hyperparams: dict[str, Any]) -> None:
        """Every key a PPOG argument, every value accepted by PPOG's argument checks (no model, no env)."""
        accepted = set(PPOG_SIGNATURE.parameters) - {"_init_setup_model"}
        for key in sorted(hyperparams):
            if key in ZOO_MANAGED_KWARGS:
                raise ZooError(
                    f"hyperparameter '{key}' (from {self._source(key)}) is set by the zoo itself "
                    f"(use the --{key.replace('_', '-')} flag instead); remove it from the config"
                )
            if key not in accepted:
                raise ZooError(
                    f"hyperparameter '{key}' (from {self._source(key)}) is not a PPOG argument "
                    f"nor a zoo setting; PPOG accepts: {', '.join(sorted(accepted - set(ZOO_MANAGED_KWARGS)))}"
                )
        if "policy" not in hyperparams:
            raise ZooError(f"no 'policy' for ppog on {self.env_name.gym_id} in {self.config} (e.g. MlpPolicy, CnnPolicy)")
        values = PPOG_SIGNATURE.bind_partial(**hyperparams)
        values.apply_defaults()
        try:
            if isinstance(hyperparams["policy"], str):
                arguments.check_choice("policy", hyperparams["policy"], tuple(PPOG.policy_aliases))
            arguments.check_arguments(values.arguments)
        except ValueError as error:
            keys = [key for key in hyperparams if re.search(rf"\b{re.escape(key)}\b", str(error))]
            where = f" (from {self._source(keys[0])})" if keys else ""
            raise ZooError(f"invalid PPOG hyperparameter{where}: {error}") from error

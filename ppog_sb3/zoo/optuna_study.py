"""The Optuna side of ``ppog-zoo train -optimize``: storage, heartbeat, strict trial cap, sampler seed, report.

:class:`OptunaSearch` is the zoo's ``ExperimentManager`` with this search (the base of
:class:`~ppog_sb3.zoo.exp_manager.PPOGExperimentManager`); the pieces it uses are functions of plain Optuna objects,
so each is testable without the zoo. What the search does:

* without ``--storage`` the study lives in an SQLite file, ``<log-folder>/<algo>/optuna/<study-name>.db``, so
  an interrupted search resumes where it stopped (the zoo's default is an in-memory study that is lost);
* ``--study-name`` defaults to ``<algo>-<env>`` (e.g. ``ppog-CartPole-v1``), also with ``--storage``: all
  workers started with the same command line then join the same study (the zoo let Optuna draw a random
  name, which silently split a distributed search);
* RDB storages (SQLite, PostgreSQL, MySQL URLs) are opened with Optuna's heartbeat: a worker killed
  mid-trial stops sending heartbeats and, once the grace period has passed, the next trial started by any
  worker (or the end of any worker's search) marks that trial FAIL, reports it on stderr and queues it again
  with the same parameters (Optuna's ``RetryHeartbeatStaleTrialCallback``, at most ``--max-retry`` times, the next
  trial any worker starts). Decision: retry by default (3 times), because a search spread over sessions or
  preemptible machines otherwise loses exactly its longest configurations (small minibatches, many epochs: a trial
  still running when a session ends is killed every time it is drawn late), which biases the search towards fast
  configurations for a reason that has nothing to do with their score; a trial that raises is not a stale one
  and is not retried;
* ``--max-total-trials`` is a strict cap: besides the zoo's ``MaxTrialsCallback`` (which can overshoot by
  one trial per worker when workers finish at the same moment), each trial checks at its start how many
  non-failed trials were created before it; a trial beyond the cap is not run and is marked FAIL with the
  user attribute ``ppog_zoo_over_cap`` (FAIL trials never count toward the cap);
* a trial whose update hits a non-finite loss (PPOG's ``NonFiniteError``) is pruned, as the zoo prunes the
  ``ValueError`` that NaNs cause in other algorithms, instead of killing the worker;
* samplers: ``--fixed-params`` pins raw search-space parameters (Optuna's ``PartialFixedSampler``); TPE uses
  ``constant_liar`` with an explicit ``--storage`` or ``--n-jobs > 1`` (parallel workers then do not propose
  the same point for trials still running); the sampler seed is mixed with the number of trials already in
  the study (a resumed search with a fixed ``--seed`` does not re-propose its first points) and, with an
  explicit ``--storage``, with the host name and process id (workers started with the same ``--seed`` do not
  propose identical parameter sets);
* an unreachable or malformed storage URL is one error line (password hidden), not a SQLAlchemy traceback;
  ``postgresql://`` URLs go to psycopg 3, the driver SQLAlchemy 2.1 picks for them and the one this project
  depends on, so the same URL works in ``optuna.load_study``, notebooks and ``optuna-dashboard``;
* the optimization plots are written next to the report as HTML (``*_history.html``,
  ``*_importances.html``) when plotly is installed, instead of ``fig.show()`` (which needs a browser);
* a trial's sampled ``policy_kwargs`` (``net_arch``, ``activation_fn``) update the config's key by key, in the
  search and with ``--trial-id``, instead of replacing them (the zoo's ``kwargs.update``): a config's
  ``features_extractor_class`` stays (:mod:`ppog_sb3.zoo.policy_kwargs`); ``--trial-id 0``, which the zoo skips
  silently (``if self.trial_id:``), is an error.
"""

from __future__ import annotations

import inspect
import logging
import os
import pickle as pkl
import random
import re
import socket
import sys
import time
import warnings
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.samplers import BaseSampler, PartialFixedSampler, RandomSampler, TPESampler
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState
from rl_zoo3.exp_manager import ExperimentManager

from ppog_sb3.ppog import NonFiniteError
from ppog_sb3.zoo.errors import ZooError
from ppog_sb3.zoo.policy_kwargs import merge_policy_kwargs_source, merging_policy_kwargs

DEFAULT_HEARTBEAT_INTERVAL = 60
DEFAULT_GRACE_PERIOD = 120
DEFAULT_MAX_RETRY = 3
#: The study's user attributes naming the search's ``--algo`` and env id (set when the study is created)
STUDY_ALGO_ATTR = "ppog_zoo_algo"
STUDY_ENV_ATTR = "ppog_zoo_env"


@dataclass
class OptimizationSettings:
    """``ppog-zoo train`` options that the zoo's own parser does not have (given by the CLI to the manager).

    :param heartbeat_interval: seconds between a running trial's heartbeats in an RDB storage (0: no heartbeat)
    :param grace_period: seconds without a heartbeat after which a RUNNING trial is marked FAIL
    :param fixed_params: raw search-space parameters pinned for the whole search
    :param max_retry: times a trial marked FAIL for want of heartbeats is queued again with its parameters (0: never)
    """

    heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL
    grace_period: int = DEFAULT_GRACE_PERIOD
    max_retry: int = DEFAULT_MAX_RETRY
    fixed_params: dict[str, Any] = field(default_factory=dict)


class TrialOverCapError(Exception):
    """Raised at the start of a trial created beyond ``--max-total-trials`` (Optuna marks it FAIL)."""


class _DropOverCapLogs(logging.Filter):
    """Optuna logs every failed trial with its traceback; an over-cap trial is expected, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, TrialOverCapError)


@contextmanager
def quiet_over_cap_trials() -> Iterator[None]:
    """While a search runs, Optuna's log of an over-cap trial is dropped (the filter is removed afterwards)."""
    logger = logging.getLogger("optuna.study._optimize")
    log_filter = _DropOverCapLogs()
    logger.addFilter(log_filter)
    try:
        yield
    finally:
        logger.removeFilter(log_filter)


def default_study_name(algo: str, env_name: str) -> str:
    """``<algo>-<env>``, e.g. ``ppog-CartPole-v1`` (``env_name`` is the zoo's name, with ``/`` replaced)."""
    return f"{algo}-{env_name}"


def default_storage_path(log_folder: str, algo: str, study_name: str) -> Path:
    """``<log-folder>/<algo>/optuna/<study-name>.db``: next to the runs of the same algorithm."""
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", study_name)
    return Path(log_folder) / algo / "optuna" / f"{safe_name}.db"


def redact_url(url: str) -> str:
    """The storage URL with its password hidden (for messages)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)


def first_line(error: BaseException) -> str:
    """The first non-empty line of an exception's message (SQLAlchemy wraps the driver's error in several)."""
    inner = getattr(error, "orig", None) or error
    for line in str(inner).splitlines():
        if line.strip():
            return line.strip()
    return type(inner).__name__


class StaleTrialCallback:
    """Reports a trial marked FAIL for want of heartbeats and queues it again (at most ``max_retry`` times).

    The retry is Optuna's own ``RetryHeartbeatStaleTrialCallback``: a WAITING trial with the stale trial's parameters,
    distributions and user attributes, which the next ``study.optimize`` of any worker runs before it samples; its
    system attributes ``failed_trial`` and ``retry_history`` name the trials it repeats.
    """

    def __init__(self, max_retry: int) -> None:
        if max_retry < 0:
            raise ZooError(f"--max-retry={max_retry} must be >= 0 (0: a stale trial is not queued again)")
        self.max_retry = int(max_retry)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=self.max_retry)

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        previous = len(trial.system_attrs.get("retry_history", []))  # retries of the same original trial so far
        original = trial.system_attrs.get("failed_trial", trial.number)
        if previous < self.max_retry:
            self._retry(study, trial)
            what = f"queued again with the same parameters (retry {previous + 1} of at most {self.max_retry})"
        elif self.max_retry == 0:
            what = "not queued again (--max-retry 0)"
        else:
            what = f"not queued again: trial {original}'s parameters were already retried {previous} times (--max-retry)"
        print(
            f"ppog-zoo: trial {trial.number} of study '{study.study_name}' sent no heartbeat within the grace period "
            f"(its worker stopped): marked FAIL, {what}",
            file=sys.stderr,
            flush=True,
        )


def open_storage(
    url: str, heartbeat_interval: int, grace_period: int, max_retry: int = DEFAULT_MAX_RETRY
) -> optuna.storages.BaseStorage:
    """Open an Optuna storage: a ``.log`` path is a journal file (as in the zoo), anything else an RDB URL.

    RDB storages get Optuna's heartbeat (``heartbeat_interval > 0``); PostgreSQL connections are checked before
    use (``pool_pre_ping``: a long search outlives idle connections) and time out after 10 s; SQLite waits up
    to 30 s for a lock (a heartbeat thread and several local workers write to the same file). A trial marked FAIL
    for want of heartbeats is queued again up to ``max_retry`` times (:class:`StaleTrialCallback`).
    """
    if url.endswith(".log"):
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url))

    engine_kwargs: dict[str, Any] = {}
    if url.startswith("postgresql"):
        engine_kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    elif url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 30}}

    heartbeat_kwargs: dict[str, Any] = {}
    if heartbeat_interval > 0:
        if grace_period <= heartbeat_interval:
            raise ZooError(
                f"--grace-period={grace_period} must be larger than --heartbeat-interval={heartbeat_interval} "
                "(a live trial would be marked FAIL between two heartbeats)."
            )
        # optuna >= 4.9 renamed failed_trial_callback (deprecated) to heartbeat_stale_trial_callback
        callback_arg = (
            "heartbeat_stale_trial_callback"
            if "heartbeat_stale_trial_callback" in inspect.signature(optuna.storages.RDBStorage).parameters
            else "failed_trial_callback"
        )
        heartbeat_kwargs = {
            "heartbeat_interval": int(heartbeat_interval),
            "grace_period": int(grace_period),
            callback_arg: StaleTrialCallback(max_retry),
        }
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **heartbeat_kwargs)
        except (IntegrityError, ProgrammingError) as error:
            # Workers that start together on an empty database race to create Optuna's tables (PostgreSQL:
            # duplicate key in pg_type): the loser retries, and then finds the tables.
            if attempt == 4:
                raise ZooError(f"cannot open the Optuna storage {redact_url(url)}: {first_line(error)}") from error
            time.sleep(0.5 + random.random())
        except Exception as error:
            raise ZooError(f"cannot open the Optuna storage {redact_url(url)}: {first_line(error)}") from error
    raise AssertionError("unreachable")


def fail_stale_trials(study: optuna.Study) -> None:
    """Mark FAIL the RUNNING trials whose worker stopped sending heartbeats (no-op without heartbeat)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def sampler_seed(seed: int, n_existing_trials: int, explicit_storage: bool) -> int:
    """The sampler seed mixed with the trials already in the study (a resumed search does not re-propose its first
    points) and, with an explicit storage, with host and process id (workers with the same ``--seed`` differ)."""
    mix = n_existing_trials
    if explicit_storage:
        mix += zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode())
    return (int(seed) + mix) % 2**32


def check_total_trials_cap(trial: optuna.Trial, max_total_trials: int) -> None:
    """Raise :class:`TrialOverCapError` when ``max_total_trials`` non-failed trials were created before this one."""
    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    before = sum(1 for t in trial.study.get_trials(deepcopy=False, states=counted) if t.number < trial.number)
    if before >= max_total_trials:
        trial.set_user_attr("ppog_zoo_over_cap", f"not run: --max-total-trials={max_total_trials} reached")
        print(
            f"Trial {trial.number} not run: the study already has --max-total-trials={max_total_trials} "
            "trials (marked FAIL, user attribute ppog_zoo_over_cap)",
            flush=True,
        )
        raise TrialOverCapError(f"over --max-total-trials={max_total_trials}")


def print_summary(study: optuna.Study) -> None:
    """The zoo's end-of-search summary, plus trials by state, and no crash when no trial completed."""
    trials = study.get_trials(deepcopy=False)
    counts = {state.name: sum(1 for t in trials if t.state == state) for state in TrialState}
    print("Number of finished trials: ", sum(1 for t in trials if t.state.is_finished()))
    print("Trials by state: " + ", ".join(f"{name} {count}" for name, count in counts.items() if count))
    try:
        best = study.best_trial
    except ValueError:
        print("No completed trial yet: no best trial")
        return
    print("Best trial:")
    print("Value: ", best.value)
    print("Params: ")
    for key, value in best.params.items():
        print(f"    {key}: {value}")
    print("User Attributes: ")
    for key, value in best.user_attrs.items():
        print(f"    {key}: {value}")


def write_report(study: optuna.Study, log_path: str, plots: bool, verbose: int) -> None:
    """``<log_path>.csv`` and ``.pkl`` as the zoo writes them; the plots as HTML files (the zoo's ``fig.show()``
    needs a browser) when plotly is installed."""
    if verbose:
        print(f"Writing report to {log_path}")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    study.trials_dataframe().to_csv(f"{log_path}.csv")
    with open(f"{log_path}.pkl", "wb+") as file:
        pkl.dump(study, file)
    if not plots:
        return
    try:
        from optuna.visualization import plot_optimization_history, plot_param_importances

        plot_optimization_history(study).write_html(f"{log_path}_history.html")
        plot_param_importances(study).write_html(f"{log_path}_importances.html")
    except (ImportError, ValueError, RuntimeError, ZeroDivisionError):
        pass  # plotly missing, or too few completed trials for importances


# ---------------------------------------------------------------------- the search in the zoo's manager
class OptunaSearch(ExperimentManager):
    """The zoo's ``ExperimentManager`` with the search of the module docstring (``-optimize``, ``--trial-id``)."""

    def _set_up_search(self, settings: OptimizationSettings | None) -> None:
        """``ppog-zoo train``'s own search options; the default study name and SQLite storage (call from ``__init__``)."""
        self.settings = settings if settings is not None else OptimizationSettings()
        self._explicit_storage = self.storage is not None
        self._trial_policy_kwargs: dict[str, Any] | None = None
        if self.trial_id == 0 and not self.optimize_hyperparameters:
            raise ZooError(
                "--trial-id 0: rl_zoo3 2.9 skips trial 0 without a word (`if self.trial_id:`) and would train the "
                "config alone; write the trial's configuration with `ppog-zoo best-config --trial-id 0` and train with it"
            )
        if self.optimize_hyperparameters or self.trial_id is not None:
            if self.study_name is None:
                self.study_name = default_study_name(self.algo, self.env_name)
            if self.storage is None:
                path = default_storage_path(self.log_folder, self.algo, self.study_name)
                if self.optimize_hyperparameters:
                    path.parent.mkdir(parents=True, exist_ok=True)
                self.storage = f"sqlite:///{path.resolve()}"
        self._sampler_seed = self.seed

    def _create_sampler(self, sampler_method: str) -> BaseSampler:
        parallel = self._explicit_storage or self.n_jobs > 1
        if sampler_method == "random":
            sampler: BaseSampler = RandomSampler(seed=self._sampler_seed)
        elif sampler_method == "tpe":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                sampler = TPESampler(
                    n_startup_trials=self.n_startup_trials,
                    seed=self._sampler_seed,
                    multivariate=True,
                    constant_liar=parallel,
                )
        else:
            sampler = super()._create_sampler(sampler_method)
        if self.settings.fixed_params:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                sampler = PartialFixedSampler(dict(self.settings.fixed_params), sampler)
        return sampler

    def _check_fixed_params(self) -> None:
        """``--fixed-params`` for ppog: known raw names, values the search space accepts (one dry sample)."""
        fixed = self.settings.fixed_params
        if not fixed or self.algo != "ppog":
            return
        from ppog_sb3.zoo.hyperparams_opt import sample_ppog_params, search_space_params

        unknown = sorted(set(fixed) - set(search_space_params()))
        if unknown:
            raise ZooError(
                f"--fixed-params: {', '.join(unknown)} not in PPOG's search space; its parameters are "
                f"{', '.join(search_space_params())}"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dry_run = optuna.create_study(sampler=PartialFixedSampler(dict(fixed), RandomSampler(seed=0)))
        try:
            sample_ppog_params(dry_run.ask(), self.n_actions, self.n_envs, {})
        except (ValueError, KeyError, TypeError) as error:
            raise ZooError(f"--fixed-params: {' '.join(str(error).split())}") from error

    def load_trial(self, storage: str, study_name: str, trial_id: int | None = None, convert: bool = True) -> dict[str, Any]:
        """The zoo's, with the trial's ``policy_kwargs`` kept aside for :meth:`read_hyperparameters` to merge."""
        params = super().load_trial(storage, study_name, trial_id, convert)
        if convert and isinstance(params.get("policy_kwargs"), dict):
            params = dict(params)
            self._trial_policy_kwargs = params.pop("policy_kwargs")
        return params

    def read_hyperparameters(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The zoo's; with ``--trial-id`` the trial's ``policy_kwargs`` update the config's key by key, written as the
        zoo's source string (so ``config.yml`` shows them); ``-params policy_kwargs:...`` still replaces both."""
        self._trial_policy_kwargs = None
        hyperparams, saved = super().read_hyperparameters()
        trial_kwargs, self._trial_policy_kwargs = self._trial_policy_kwargs, None
        if trial_kwargs is None or "policy_kwargs" in (self.custom_hyperparams or {}):
            return hyperparams, saved
        merged = merge_policy_kwargs_source(hyperparams.get("policy_kwargs"), trial_kwargs)
        hyperparams["policy_kwargs"] = merged
        print(f"policy_kwargs: the config's, updated with trial {self.trial_id}'s: {merged}")
        return hyperparams, OrderedDict(sorted({**saved, "policy_kwargs": merged}.items()))

    def objective(self, trial: optuna.Trial) -> float:
        """The zoo's objective; a trial past ``--max-total-trials`` is not run, a non-finite update prunes the trial."""
        if self.max_total_trials is not None:
            check_total_trials_cap(trial, self.max_total_trials)
        try:
            return super().objective(trial)
        except NonFiniteError as error:
            print(f"Trial {trial.number} pruned: {error}", flush=True)
            raise optuna.TrialPruned(str(error)) from error

    def hyperparameters_optimization(self) -> None:
        """The zoo's search loop on a storage with heartbeat, with a strict cap and a report that survives no trial.

        Overridden whole, because the zoo's method builds its study from ``self.storage`` as a URL string
        (``optuna.create_study(storage=url)``), which cannot carry a heartbeat, creates the sampler before the study
        (its seed cannot depend on the study's trials), and ends with ``study.best_trial`` (an error when no trial
        completed) and ``fig.show()``. The upstream hooks that would remove this override: a ``_create_study()``
        method (or ``storage`` accepted as an Optuna storage object) and a ``_write_report(study)`` method.
        """
        if self.verbose > 0:
            print("Optimizing hyperparameters")
        if self.tensorboard_log is not None:
            warnings.warn("Tensorboard log is deactivated when running hyperparameter optimization")
            self.tensorboard_log = None

        assert self.storage is not None and self.study_name is not None  # set by _set_up_search
        self._check_fixed_params()
        storage = open_storage(
            self.storage, self.settings.heartbeat_interval, self.settings.grace_period, self.settings.max_retry
        )
        try:
            study = optuna.create_study(
                sampler=RandomSampler(),  # placeholder: the real sampler's seed depends on the study's trials
                pruner=self._create_pruner(self.pruner),
                storage=storage,
                study_name=self.study_name,
                load_if_exists=True,
                direction="maximize",
            )
        except ValueError as error:  # e.g. an existing study with another direction
            raise ZooError(f"cannot use study '{self.study_name}' in {self._storage_label()}: {error}") from error
        fail_stale_trials(study)
        n_existing = len(study.get_trials(deepcopy=False))
        self._sampler_seed = sampler_seed(self.seed, n_existing, self._explicit_storage)
        study.sampler = self._create_sampler(self.sampler)

        if self.verbose > 0:
            print(f"Sampler: {self.sampler} - Pruner: {self.pruner}")
            print(f"Study '{self.study_name}' in {self._storage_label()}: {n_existing} trials so far")
        if "command" not in study.user_attrs:
            study.set_user_attr("command", " ".join(sys.orig_argv))
            study.set_user_attr(STUDY_ALGO_ATTR, self.algo)  # for ppog-zoo best-config
            study.set_user_attr(STUDY_ENV_ATTR, self.env_name.gym_id)
            for key in sorted(self._hyperparams):
                study.set_user_attr(key, str(self._hyperparams[key]))

        try:
            with quiet_over_cap_trials(), merging_policy_kwargs(self.algo, self._hyperparams.get("policy_kwargs")):
                self._optimize(study)
        except KeyboardInterrupt:
            pass
        # Clean up after workers that died (their trials would stay RUNNING until the next trial starts)
        fail_stale_trials(study)
        print_summary(study)
        report_name = (
            f"report_{self.env_name}_{self.n_trials}-trials-{self.n_timesteps}-{self.sampler}-{self.pruner}_{int(time.time())}"
        )
        write_report(
            study, os.path.join(self.log_folder, self.algo, report_name), plots=not self.no_optim_plots, verbose=self.verbose
        )

    def _optimize(self, study: optuna.Study) -> None:
        if self.max_total_trials is None:
            study.optimize(self.objective, n_jobs=self.n_jobs, n_trials=self.n_trials, gc_after_trial=True)
            return
        # As the zoo: RUNNING trials count, so N workers do not run max_total_trials + N trials
        counted = [TrialState.COMPLETE, TrialState.RUNNING, TrialState.PRUNED]
        if len(study.get_trials(deepcopy=False, states=counted)) >= self.max_total_trials:
            print(f"The study already has --max-total-trials={self.max_total_trials} trials: nothing to run")
            return
        study.optimize(
            self.objective,
            n_jobs=self.n_jobs,
            callbacks=[MaxTrialsCallback(self.max_total_trials, states=tuple(counted))],
            gc_after_trial=True,
            catch=(TrialOverCapError,),
        )

    def _storage_label(self) -> str:
        return redact_url(self.storage) if self.storage else "memory"

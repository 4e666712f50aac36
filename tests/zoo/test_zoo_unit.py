"""Fast, in-process tests of the zoo integration: registration, config file, Optuna sampler, CLI dispatcher."""

from __future__ import annotations

import re
import sys
import time
import types

import optuna
import pytest
import yaml
from optuna.trial import TrialState
from stable_baselines3.common.env_util import make_vec_env
from zoo_helpers import CONFIG

from ppog_sb3 import PPOG
from ppog_sb3.envs import is_plugin_id
from ppog_sb3.zoo import cli, convert_ppog_params, register, sample_ppog_params, unregister
from ppog_sb3.zoo.errors import ZooError
from ppog_sb3.zoo.optuna_study import (
    default_storage_path,
    default_study_name,
    fail_stale_trials,
    open_storage,
    redact_url,
)
from ppog_sb3.zoo.seams import parse_cli_value

# Keys the zoo consumes itself (never passed to the model)
ZOO_KEYS = {"n_envs", "n_timesteps", "frame_stack", "normalize", "env_wrapper", "env_kwargs", "policy_kwargs", "callback"}


@pytest.fixture
def zoo(zoo_registered):
    import rl_zoo3

    return rl_zoo3


def load_config() -> dict:
    with open(CONFIG) as file:
        return yaml.safe_load(file)


# ---------------------------------------------------------------------- registration
def zoo_state() -> dict:
    """Every zoo attribute ppog-zoo must leave alone, and the tables' keys."""
    import rl_zoo3.enjoy
    import rl_zoo3.exp_manager
    import rl_zoo3.hyperparams_opt
    import rl_zoo3.train
    import rl_zoo3.utils

    modules = (rl_zoo3, rl_zoo3.utils, rl_zoo3.exp_manager, rl_zoo3.train, rl_zoo3.enjoy)
    return {
        "ExperimentManager": [getattr(m, "ExperimentManager", None) for m in modules],
        "create_test_env": [getattr(m, "create_test_env", None) for m in modules],
        "StoreDict.__call__": rl_zoo3.utils.StoreDict.__call__,
        "algos": sorted(rl_zoo3.ALGOS),
        "samplers": sorted(rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER),
        "converters": sorted(rl_zoo3.hyperparams_opt.HYPERPARAMS_CONVERTER),
    }


def test_register_fills_the_zoo_tables_and_unregister_empties_them():
    import argparse

    import rl_zoo3.exp_manager
    import rl_zoo3.hyperparams_opt
    import rl_zoo3.train
    import rl_zoo3.utils
    from matplotlib import pyplot as plt

    unregister()
    before = zoo_state()
    originals = (argparse.ArgumentParser.error, plt.show)
    assert "ppog" not in before["algos"]
    register()
    register()  # idempotent
    try:
        for module in (rl_zoo3, rl_zoo3.utils, rl_zoo3.exp_manager, rl_zoo3.train):
            assert module.ALGOS["ppog"] is PPOG
            assert module.ALGOS["ppo"].__name__ == "PPO"  # the zoo's own algorithms stay
        assert rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER["ppog"] is sample_ppog_params
        assert rl_zoo3.hyperparams_opt.HYPERPARAMS_CONVERTER["ppog"] is convert_ppog_params
        during = zoo_state()
        for key in ("ExperimentManager", "create_test_env", "StoreDict.__call__"):
            assert during[key] == before[key], f"register() changed the zoo's {key}"
        assert (argparse.ArgumentParser.error, plt.show) == originals
    finally:
        unregister()
    assert zoo_state() == before


def test_params_values_keep_schedule_strings(zoo):
    assert parse_cli_value("lin_0.01") == "lin_0.01"
    assert parse_cli_value("lin_1e-4") == "lin_1e-4"
    assert parse_cli_value("CnnPolicy") == "CnnPolicy"
    assert parse_cli_value("0.01") == 0.01
    assert parse_cli_value("'0.01'") == "0.01"
    assert parse_cli_value("dict(net_arch=[32])") == {"net_arch": [32]}
    assert parse_cli_value("True") is True


def test_plugin_ids_and_default_storage():
    assert is_plugin_id("ppog/SpaceInvaders-v5") and is_plugin_id("ppog/Breakout-v5")
    assert not is_plugin_id("SpaceInvadersNoFrameskip-v4")
    assert not is_plugin_id("ALE/SpaceInvaders-v5")
    assert not is_plugin_id("ppog/NoSuchGame-v0")
    assert default_study_name("ppog", "CartPole-v1") == "ppog-CartPole-v1"
    assert default_storage_path("logs", "ppog", "ppog-CartPole-v1").as_posix() == "logs/ppog/optuna/ppog-CartPole-v1.db"
    assert "secret" not in redact_url("postgresql://user:secret@host:5432/db")


# ---------------------------------------------------------------------- config file
def test_config_sections_and_comments():
    config = load_config()
    for section in ("default", "atari", "SpaceInvadersNoFrameskip-v4", "ppog/SpaceInvaders-v5", "CartPole-v1"):
        assert section in config
    atari = config["atari"]
    assert atari["frame_stack"] == 4 and atari["policy"] == "CnnPolicy"
    assert (atari["n_envs"], atari["n_steps"], atari["n_epochs"], atari["batch_size"]) == (8, 128, 4, 256)
    assert (atari["learning_rate"], atari["clip_range"], atari["vf_coef"], atari["ent_coef"]) == (
        "lin_2.5e-4",
        "lin_0.1",
        0.5,
        0.01,
    )
    assert config["SpaceInvadersNoFrameskip-v4"] == atari
    fast = config["ppog/SpaceInvaders-v5"]
    assert "frame_stack" not in fast and "env_wrapper" not in fast, "the fast path is already preprocessed and stacked"
    speed = {"precision", "channels_last"}  # PPOG's speed options, on the fast path only
    assert {k: v for k, v in atari.items() if k not in ("frame_stack", "env_wrapper")} == {
        k: v for k, v in fast.items() if k not in speed
    }
    assert (fast["precision"], fast["channels_last"]) == ("fp32", True)

    # Every value has a reason comment
    for number, line in enumerate(CONFIG.read_text().splitlines(), start=1):
        stripped = line.strip()
        if (
            not stripped
            or stripped.startswith("#")
            or stripped.endswith(":")
            or "&" in stripped
            and stripped.endswith("-defaults")
        ):
            continue
        assert re.search(r"\s#\s\S", line), f"{CONFIG.name}:{number} has no reason comment: {line!r}"


@pytest.mark.parametrize("section", ["default", "atari", "SpaceInvadersNoFrameskip-v4", "ppog/SpaceInvaders-v5"])
def test_config_sections_are_valid_ppog_arguments(section):
    kwargs = {k: v for k, v in load_config()[section].items() if k not in ZOO_KEYS}
    PPOG(env=None, _init_setup_model=False, **kwargs)  # PPOG's own argument checks (schedule strings included)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1", "MountainCarContinuous-v0"])
def test_config_classic_control_builds_ppog(env_id):
    section = load_config()[env_id]
    kwargs = {k: v for k, v in section.items() if k not in ZOO_KEYS}
    for key in ("learning_rate", "clip_range"):
        value = kwargs.get(key)
        if isinstance(value, str):  # the zoo turns these into schedules before PPOG sees them
            kwargs[key] = float(value.split("_")[1])
    if isinstance(section.get("policy_kwargs"), str):
        kwargs["policy_kwargs"] = eval(section["policy_kwargs"])
    env = make_vec_env(env_id, n_envs=section.get("n_envs", 1))
    model = PPOG(env=env, **kwargs)
    assert model.policy_loss == "ppog"
    env.close()


# ---------------------------------------------------------------------- Optuna sampler
def test_sampler_gives_valid_ppog_kwargs_and_converter_agrees():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), direction="maximize")
    env = make_vec_env("CartPole-v1", n_envs=2)
    seen_losses = set()
    for _ in range(25):
        trial = study.ask()
        kwargs = sample_ppog_params(trial, n_actions=0, n_envs=2, additional_args={})
        assert 0 < kwargs["ent_coef_decay"] <= 1
        assert 0 <= kwargs["ent_coef_min"] <= kwargs["ent_coef"]
        assert kwargs["vf_learning_rate"] == pytest.approx(kwargs["learning_rate"] * trial.params["vf_lr_ratio"])
        assert kwargs["batch_size"] <= kwargs["n_steps"] * 2
        seen_losses.add(kwargs["policy_loss"])
        PPOG("MlpPolicy", env, **kwargs)  # constructs without error
        converted = convert_ppog_params(trial.params)
        assert {k: v for k, v in converted.items() if k != "batch_size"} == {
            k: v for k, v in kwargs.items() if k != "batch_size"
        }
        study.tell(trial, 1.0)
    assert seen_losses == {"ppog", "clip"}
    env.close()


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_fixed_params_pin_the_search_space():
    sampler = optuna.samplers.PartialFixedSampler(
        {"n_steps_pow": 6, "net_arch": "tiny", "policy_loss": "clip"}, optuna.samplers.RandomSampler(seed=1)
    )
    study = optuna.create_study(sampler=sampler)
    trial = study.ask()
    kwargs = sample_ppog_params(trial, 0, 1, {})
    assert kwargs["n_steps"] == 64 and kwargs["policy_loss"] == "clip"
    assert kwargs["policy_kwargs"]["net_arch"] == {"pi": [64], "vf": [64]}


# ---------------------------------------------------------------------- CLI dispatcher
def test_cli_usage_and_unknown_commands(capsys):
    assert cli.main([]) == 2
    assert "record_video" in capsys.readouterr().out
    assert cli.main(["--help"]) == 0
    assert "compare" in capsys.readouterr().out
    assert cli.main(["nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown command 'nope'" in err


def test_compare_calls_the_compare_module_lazily(capsys, monkeypatch):
    calls = []
    fake = types.ModuleType(cli.COMPARE_MODULE)
    fake.main = lambda argv: calls.append(argv) or 5  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, cli.COMPARE_MODULE, fake)
    assert cli.main(["compare", "-f", "logs", "--out", "x.png"]) == 5
    assert calls == [["-f", "logs", "--out", "x.png"]]


def test_plot_commands_take_namespaced_env_ids():
    assert cli.env_folder_names(["-a", "ppog", "-e", "ppog/SpaceInvaders-v5", "CartPole-v1", "-f", "logs/x"]) == [
        "-a",
        "ppog",
        "-e",
        "ppog-SpaceInvaders-v5",
        "CartPole-v1",
        "-f",
        "logs/x",
    ]
    assert cli.env_folder_names(["--env=ppog/Pong-v5", "-o", "a/b.png"]) == ["--env=ppog-Pong-v5", "-o", "a/b.png"]


def test_cli_extra_command_hook(capsys):
    calls = []
    cli.register_command("unit-test-cmd", lambda argv: calls.append(argv) or 3, "test")
    try:
        assert cli.main(["unit-test-cmd", "--x", "1"]) == 3
        assert calls == [["--x", "1"]]
        with pytest.raises(ValueError):
            cli.register_command("unit-test-cmd", lambda argv: 0, "again")
    finally:
        cli.COMMANDS.pop("unit-test-cmd")


def test_cli_errors_are_one_line(capsys):
    def boom(argv):
        raise RuntimeError("something\nwent wrong")

    cli.register_command("unit-test-boom", boom, "test")
    try:
        assert cli.main(["unit-test-boom"]) == 1
    finally:
        cli.COMMANDS.pop("unit-test-boom")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: something went wrong" in err and "Traceback" not in err


def test_ppo_comparison_config_matches_ppog_config():
    """zoo_configs/ppo.yml is ppog.yml without PPOG's own knobs: the comparison changes only the algorithm."""
    from stable_baselines3 import PPO

    ppo = yaml.safe_load((CONFIG.parent / "ppo.yml").read_text())
    ppog = load_config()
    ppog_only = {
        "policy_loss",
        "ent_coef_decay",
        "ent_coef_min",
        "vf_learning_rate",
        "advantage_estimator",
        "precision",
        "channels_last",
    }
    for section, values in ppo.items():
        assert {k: v for k, v in ppog[section].items() if k not in ppog_only} == values, section
        PPO(env=None, _init_setup_model=False, **{k: v for k, v in values.items() if k not in ZOO_KEYS})


def test_sampler_is_the_zoos_ppo_space_plus_ppogs_own():
    """PPO's part comes from the zoo's sampler and converter (same raw names, same kwargs), PPOG adds four."""
    from rl_zoo3.hyperparams_opt import convert_onpolicy_params, sample_ppo_params

    from ppog_sb3.zoo.hyperparams_opt import PPOG_PARAMS, search_space_params

    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask()
    kwargs = sample_ppog_params(trial, 0, 64, {})
    zoo_trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask()
    zoo_kwargs = sample_ppo_params(zoo_trial, 0, 64, {})
    assert list(trial.params)[: len(zoo_trial.params)] == list(zoo_trial.params)  # the zoo's names first, same order
    assert set(trial.params) == set(search_space_params()) == set(zoo_trial.params) | set(PPOG_PARAMS)
    ppo_part = {key: value for key, value in trial.params.items() if key not in PPOG_PARAMS}
    assert {k: v for k, v in kwargs.items() if k in zoo_kwargs and k != "batch_size"} == {
        k: v for k, v in convert_onpolicy_params(ppo_part).items() if k != "batch_size"
    }
    assert set(kwargs) - set(zoo_kwargs) == {"vf_learning_rate", "ent_coef_decay", "ent_coef_min", "policy_loss"}


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path, unbuffered):
    """`ppog-zoo study status ... | head -1`: the pipe's reader is gone before the command writes (its read end is
    closed here at once, while the command is still importing), so every write fails with EPIPE."""
    import subprocess

    from zoo_helpers import REPO, zoo_command, zoo_env

    study = REPO / "zoo_configs" / "minatar" / "study.yml"
    env = zoo_env({"PYTHONUNBUFFERED": unbuffered})
    if not unbuffered:
        env.pop("PYTHONUNBUFFERED")
    command = zoo_command("study", "status", str(study), "-f", str(tmp_path))
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.close()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 141 and err.decode() == "", err.decode()[-2000:]  # 128 + SIGPIPE, nothing printed


def _stale_trial(study: optuna.Study, storage, grace: float) -> optuna.trial.Trial:
    """A trial that ran (a heartbeat, a sampled parameter) and whose worker then stopped."""
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    storage.record_heartbeat(trial._trial_id)
    time.sleep(grace + 1.2)  # SQLite's clock (CURRENT_TIMESTAMP) has whole seconds
    return trial


def test_a_stale_trial_is_queued_again_with_its_parameters_until_max_retry(tmp_path, capsys):
    # Catches: no retry callback on the storage (the killed trial's parameters are never run: a search spread over
    # sessions loses its longest configurations), a retry with freshly sampled parameters, and retrying forever.
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=1, grace_period=2, max_retry=1)
    study = optuna.create_study(storage=storage, study_name="retry")
    first = _stale_trial(study, storage, grace=2)
    fail_stale_trials(study)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert trials[1].params == {"x": first.params["x"]}
    assert trials[1].system_attrs["failed_trial"] == 0
    assert "trial 0 of study 'retry'" in capsys.readouterr().err.replace("\n", " ")

    # The retry runs first, with the stale trial's value; killed again, it is not queued a second time
    retry = study.ask()
    assert retry.number == 1 and retry.suggest_float("x", 0.0, 1.0) == first.params["x"]
    storage.record_heartbeat(retry._trial_id)
    time.sleep(3.2)
    fail_stale_trials(study)
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.FAIL]
    assert "already retried 1 times" in capsys.readouterr().err


def test_max_retry_zero_marks_fail_only(tmp_path, capsys):
    # Catches: --max-retry 0 ignored (a user who wants the plain FAIL gets a queued trial anyway)
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=1, grace_period=2, max_retry=0)
    study = optuna.create_study(storage=storage, study_name="no-retry")
    _stale_trial(study, storage, grace=2)
    fail_stale_trials(study)
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL]
    assert "not queued again (--max-retry 0)" in capsys.readouterr().err
    with pytest.raises(ZooError, match="--max-retry=-1"):
        open_storage(f"sqlite:///{tmp_path / 't.db'}", heartbeat_interval=1, grace_period=2, max_retry=-1)


def test_negative_max_retry_is_a_one_line_error(capsys):
    # Catches: a negative --max-retry accepted (Optuna's callback would then never retry, silently)
    assert cli.main(["train", "--algo", "ppog", "--env", "CartPole-v1", "-optimize", "--max-retry", "-1"]) == 2
    assert "--max-retry=-1 must be >= 0" in capsys.readouterr().err

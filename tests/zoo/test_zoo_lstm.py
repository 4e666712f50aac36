"""``--algo ppog_lstm`` (RecurrentPPOG, after the zoo's ``ppo_lstm``): registered with the zoo's ppo_lstm search space
plus PPOG's parameters; ``zoo_configs/ppog_lstm.yml`` is the zoo's tuned ppo_lstm settings; the real CLI trains with it
and with the zoo's own ppo_lstm.yml unchanged, and enjoy plays the result."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import rl_zoo3
import yaml
from zoo_helpers import REPO, run_zoo

from ppog_sb3 import RecurrentPPOG
from ppog_sb3.zoo.hyperparams_opt import PPOG_PARAMS, convert_ppog_params, sample_ppog_lstm_params
from ppog_sb3.zoo.registry import registered

ZOO_PPO_LSTM = Path(rl_zoo3.__file__).parent / "hyperparams" / "ppo_lstm.yml"
CONFIG = REPO / "zoo_configs" / "ppog_lstm.yml"


def test_ppog_lstm_is_in_the_zoos_tables():
    import rl_zoo3.hyperparams_opt

    with registered():
        assert rl_zoo3.ALGOS["ppog_lstm"] is RecurrentPPOG
        assert rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER["ppog_lstm"] is sample_ppog_lstm_params
        assert rl_zoo3.hyperparams_opt.HYPERPARAMS_CONVERTER["ppog_lstm"] is convert_ppog_params
    assert "ppog_lstm" not in rl_zoo3.ALGOS


def test_search_space_is_the_zoos_ppo_lstm_plus_ppogs():
    """The raw parameters are the zoo's ppo_lstm sampler's plus PPOG's; the converter gives back the sampled kwargs;
    RecurrentPPOG takes them (a model is built)."""
    from rl_zoo3.hyperparams_opt import sample_ppo_lstm_params

    zoo_trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask()
    sample_ppo_lstm_params(zoo_trial, 0, 2, {})
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask()
    kwargs = sample_ppog_lstm_params(trial, 0, 2, {})
    assert list(trial.params) == [*zoo_trial.params, *PPOG_PARAMS]
    converted = convert_ppog_params(trial.params)
    assert {k: v for k, v in converted.items() if k != "batch_size"} == {k: v for k, v in kwargs.items() if k != "batch_size"}
    RecurrentPPOG("MlpLstmPolicy", "CartPole-v1", device="cpu", **{**kwargs, "n_steps": 8, "batch_size": 8})


@pytest.mark.parametrize("section", ["CartPoleNoVel-v1", "PendulumNoVel-v1"])
def test_config_sections_are_the_zoos_tuned_ppo_lstm_ones(section):
    """The zoo's settings, copied unchanged, plus PPOG's policy_loss only."""
    ours = yaml.safe_load(CONFIG.read_text())[section]
    assert ours.pop("policy_loss") == "ppog"
    assert ours == yaml.safe_load(ZOO_PPO_LSTM.read_text())[section]


@pytest.mark.slow
def test_cli_trains_with_its_config_and_the_zoos_and_enjoy_plays(tmp_path):
    common = ["-f", "logs", "--seed", "0", "--num-threads", "1", "--eval-freq", "-1"]
    small = ["-params", "n_envs:2", "n_steps:32", "n_epochs:2"]
    run_zoo(
        "train",
        "--algo",
        "ppog_lstm",
        "--env",
        "CartPoleNoVel-v1",
        "-conf",
        str(CONFIG),
        "-n",
        "256",
        *common,
        *small,
        cwd=tmp_path,
    )
    run_zoo(
        "train", "--algo", "ppog_lstm", "--env", "PendulumNoVel-v1", "-conf", str(ZOO_PPO_LSTM), "-n", "128", *common, *small,
        cwd=tmp_path,
    )  # fmt: skip
    for env_id in ("CartPoleNoVel-v1", "PendulumNoVel-v1"):
        model = RecurrentPPOG.load(tmp_path / "logs" / "ppog_lstm" / f"{env_id}_1" / f"{env_id}.zip")
        assert model.num_timesteps >= 128 and model._n_train_updates > 0 and model.policy_loss == "ppog"
    assert model.use_sde  # the zoo's PendulumNoVel-v1 section, unchanged
    enjoy = run_zoo(
        "enjoy", "--algo", "ppog_lstm", "--env", "CartPoleNoVel-v1", "-f", "logs", "--no-render", "-n", "100",
        "--num-threads", "1", cwd=tmp_path,
    )  # fmt: skip
    assert "Mean reward" in enjoy.stdout

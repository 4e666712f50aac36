"""The tuned-against-tuned search (issue 25): ``make tune``, sampled ``policy_kwargs`` merged into the config's, and
``ppog-zoo best-config``.

The searches here are real ``ppog-zoo train -optimize`` runs on MinAtar Breakout with the study's own configs
(``zoo_configs/minatar/zoo_<algo>.yml``, whose ``policy_kwargs`` hold the MinAtarCNN body that the zoo's sampler does
not sample), two trials of 1024 steps with the rollout pinned small (``--fixed-params``). The searches run in-process
(``cli.main``), so the zoo's sampler table can be checked afterwards; ``make tune`` runs its printed commands with a
Python that sees only ``pip install ".[study]"``.
"""

from __future__ import annotations

import shlex
import subprocess

import optuna
import pytest
import rl_zoo3.exp_manager
import rl_zoo3.hyperparams_opt
import torch
import yaml
from core_only import core_python
from torch import nn
from zoo_helpers import REPO, zoo_env

from ppog_sb3 import PPOG
from ppog_sb3.common.extractors import MinAtarCNN
from ppog_sb3.zoo import cli
from ppog_sb3.zoo.best_config import replace_section, trial_hyperparams, write_best_config, yaml_value
from ppog_sb3.zoo.errors import ZooError
from ppog_sb3.zoo.policy_kwargs import merge_policy_kwargs_source, merging_policy_kwargs, python_source

ENV = "MinAtar/Breakout-v1"
MINATAR = REPO / "zoo_configs" / "minatar"
#: batch_size_pow 10 (1024) over a 8 x 64 rollout: PPOG's sampler clamps it to 512, which best-config must write
PINNED = ["n_steps_pow:6", "batch_size_pow:10", "n_epochs:1", "net_arch:tiny", "activation_fn:tanh"]
TINY_HEADS = {"pi": [64], "vf": [64]}  # the zoo's "tiny" net_arch


def algo_class(algo: str):
    from stable_baselines3 import PPO

    return PPO if algo == "ppo" else PPOG


def zoo(*args: str) -> None:
    """``ppog-zoo ARGS`` in this process; torch's thread count is left as it was (``--num-threads`` sets it)."""
    threads = torch.get_num_threads()
    try:
        assert cli.main(list(args)) == 0
    finally:
        torch.set_num_threads(threads)


def sampler_table() -> dict:
    return dict(rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER)


# ---------------------------------------------------------------------- merging policy_kwargs (no zoo run)
ZOO_EVAL = vars(rl_zoo3.exp_manager)  # where the zoo evaluates a policy_kwargs string

BASES = [
    None,
    {"ortho_init": False, "net_arch": []},
    "dict(features_extractor_class=importlib.import_module('ppog_sb3.common.extractors').MinAtarCNN, net_arch=[])",
    "dict(net_arch=dict(pi=[8], vf=[8]), optimizer_kwargs=dict(eps=1e-5))",
    "{'ortho_init': False, 'net_arch': [32]}",
]


@pytest.mark.parametrize("base", BASES)
def test_merged_source_evaluates_to_the_config_updated_by_the_sample(base):
    """The zoo's eval of the written string is the config's policy_kwargs updated key by key (catches: the sampled
    dict replacing the config's, a key's source text mangled, a class written in a form the zoo cannot evaluate)."""
    sampled = {"net_arch": TINY_HEADS, "activation_fn": nn.Tanh, "features_extractor_kwargs": {"features_dim": 64}}
    config = eval(base, ZOO_EVAL) if isinstance(base, str) else (base or {})
    merged = merge_policy_kwargs_source(base, sampled)
    assert eval(merged, ZOO_EVAL) == {**config, **sampled}
    if isinstance(base, str) and base.startswith("dict("):
        assert "importlib.import_module('ppog_sb3.common.extractors').MinAtarCNN" in merged or "MinAtarCNN" not in base


def test_python_source_of_classes_and_containers():
    """Hand-written expectations (catches: torch.nn classes not written as ``nn.X``, tuples losing their comma)."""
    assert python_source(nn.ReLU) == "nn.ReLU"
    assert python_source(MinAtarCNN) == "importlib.import_module('ppog_sb3.common.extractors').MinAtarCNN"
    assert python_source({"pi": [64], "vf": (1,)}) == "dict(pi=[64], vf=(1,))"
    assert python_source({1: "a"}) == "{1: 'a'}"
    with pytest.raises(ZooError, match="as Python source"):
        python_source(object())


def test_merging_sampler_is_scoped_to_the_block():
    """Inside the block the table's entry merges, afterwards the table is the zoo's again, also after an error
    (catches: a permanent patch, a restore missing on exceptions, the config's keys dropped)."""
    before = sampler_table()
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    with pytest.raises(RuntimeError), merging_policy_kwargs("ppo", {"features_extractor_class": MinAtarCNN, "net_arch": []}):
        sampled = rl_zoo3.exp_manager.HYPERPARAMS_SAMPLER["ppo"](trial, 0, 8, {})
        raise RuntimeError("a trial that crashed")
    assert sampled["policy_kwargs"]["features_extractor_class"] is MinAtarCNN
    assert (
        sampled["policy_kwargs"]["net_arch"]
        == rl_zoo3.hyperparams_opt.convert_onpolicy_params(trial.params)["policy_kwargs"]["net_arch"]
    )
    assert sampler_table() == before and rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER is rl_zoo3.exp_manager.HYPERPARAMS_SAMPLER


@pytest.mark.parametrize("value", [1e-05, 1e6, 2.5e-4, 0.1, 3, True, None, "lin_2.5e-4", "1e-5", "MlpPolicy", [64, 64]])
def test_yaml_value_reads_back_as_itself(value):
    """Catches: floats written with ``repr`` (PyYAML reads ``1e-05`` as a string), strings that YAML would read as
    numbers left unquoted."""
    assert yaml.safe_load(f"key: {yaml_value(value)}") == {"key": value}


def test_replace_section_keeps_the_other_sections_verbatim():
    """Catches: a rewrite through yaml.dump (comments lost), the block's own comments left behind, a section added
    twice."""
    text = "# file header\n\n# a's comment\na:\n  x: 1  # keep\n\n# B/b-v1 comment\nB/b-v1:\n  y: 2\n\nc:\n  z: 3\n"
    new_section = "# new comment\nB/b-v1:\n  y: 5\n"
    replaced = replace_section(text, "B/b-v1", new_section)
    assert replaced == "# file header\n\n# a's comment\na:\n  x: 1  # keep\n\n# new comment\nB/b-v1:\n  y: 5\n\nc:\n  z: 3\n"
    assert replace_section(replaced, "B/b-v1", new_section) == replaced
    assert replace_section(text, "d", "d:\n  w: 0\n") == text + "\nd:\n  w: 0\n"


# ---------------------------------------------------------------------- make tune
def make_tune_commands(*variables: str) -> list[list[str]]:
    """The ``ppog-zoo`` arguments of each search of ``make tune`` (``make -n``: printed, not run), with ``nice``."""
    printed = subprocess.run(
        ["make", "-n", "-C", str(REPO), "tune", "VENV=/venv-of-make", *variables], capture_output=True, text=True, check=True
    )
    lines = [line for line in printed.stdout.replace("\\\n", " ").splitlines() if "ppog-zoo train" in line]
    commands = []
    for line in lines:
        words = shlex.split(line.split(">>")[0])
        assert words[:4] == ["nice", "-n", "5", "/venv-of-make/bin/ppog-zoo"], words
        commands.append(words[4:])
    return commands


def flag(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def test_make_tune_runs_four_searches_that_differ_only_by_arm_and_game():
    """The issue's settings, the same for every search (catches: a flag dropped or changed for one arm, PPOG's loss
    not pinned, PPO given PPOG's pin, a budget under the issue's 48 trials x 300k steps, two searches in one folder)."""
    commands = make_tune_commands()
    searches = {(flag(c, "--algo"), flag(c, "--env")) for c in commands}
    assert searches == {(a, f"MinAtar/{g}-v1") for a in ("ppo", "ppog") for g in ("Breakout", "SpaceInvaders")}
    assert len(commands) == 4
    own = {"--algo", "--env", "-conf", "-f", "--study-name", "--fixed-params"}

    def shared(words: list[str]) -> list[str]:
        kept, skip = [], False
        for word in words:
            if skip and not word.startswith("-"):
                continue
            skip = word in own
            if not skip:
                kept.append(word)
        return kept

    assert all(shared(c) == shared(commands[0]) for c in commands), [shared(c) for c in commands]
    first = commands[0]
    assert "-optimize" in first and int(flag(first, "--max-total-trials")) >= 48 and int(flag(first, "-n")) >= 300_000
    assert (flag(first, "--sampler"), flag(first, "--pruner"), flag(first, "--n-startup-trials")) == ("tpe", "median", "10")
    assert flag(first, "--num-threads") == "1" and "--storage" not in first  # the default storage: a seeded sampler
    for words in commands:
        algo = flag(words, "--algo")
        assert flag(words, "-conf") == f"zoo_configs/minatar/zoo_{algo}.yml"
        assert ("--fixed-params" in words) == (algo == "ppog")
        if algo == "ppog":
            assert words[words.index("--fixed-params") + 1 :] == ["policy_loss:ppog"]
    assert len({flag(c, "-f") for c in commands}) == len({flag(c, "--study-name") for c in commands}) == 4


@pytest.mark.slow
def test_make_tune_dry_run_resumes_each_search_to_its_total(tmp_path):
    """The printed searches, tiny, run twice: each study continues to TUNE_TRIALS in all (catches: ``--n-trials``
    instead of ``--max-total-trials``, so a rerun adds a whole budget again; a folder or study name that differs on a
    rerun, so it starts a new study)."""
    python = core_python(extras=("study",))
    small = [
        f"TUNE_DIR={tmp_path / 'tuning'}",
        "TUNE_TIMESTEPS=1024",
        "TUNE_EVAL_EPISODES=1",
        "TUNE_GAMES=Breakout",
        "TUNE_FIXED=n_steps_pow:6 batch_size_pow:6 n_epochs:1 net_arch:tiny",
    ]
    for total in (1, 2):
        commands = make_tune_commands(*small, f"TUNE_TRIALS={total}")
        assert len(commands) == 2
        output = subprocess.PIPE
        procs = [
            subprocess.Popen(
                [python, "-m", "ppog_sb3.zoo", *words], cwd=REPO, env=zoo_env(), stdout=output, stderr=output, text=True
            )
            for words in commands
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=400)
            assert proc.returncode == 0, (out + err)[-3000:]
    for arm in ("ppo", "ppog"):
        name = f"{arm}_Breakout"
        storage = f"sqlite:///{tmp_path / 'tuning' / name / arm / 'optuna' / name}.db"
        trials = optuna.load_study(study_name=name, storage=storage).get_trials()
        assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2, name
        assert all(t.params.get("policy_loss", "ppog") == "ppog" for t in trials)


# ---------------------------------------------------------------------- a real search on MinAtar
@pytest.fixture(scope="module", params=["ppo", "ppog"])
def search(request, tmp_path_factory):
    """Two trials of ``-optimize`` with the study's config, each trial's model kept (``--optimization-log-path``)."""
    algo = request.param
    root = tmp_path_factory.mktemp(f"search_{algo}")
    before = sampler_table()
    zoo(
        "train", "--algo", algo, "--env", ENV, "-conf", str(MINATAR / f"zoo_{algo}.yml"), "-f", str(root / "logs"),
        "-optimize", "--study-name", "s", "--n-trials", "2", "-n", "1024", "--n-evaluations", "1", "--eval-episodes", "1",
        "--no-optim-plots", "--optimization-log-path", str(root / "trials"), "--seed", "0", "--fixed-params", *PINNED,
    )  # fmt: skip
    storage = f"sqlite:///{root / 'logs' / algo / 'optuna' / 's.db'}"
    return {"algo": algo, "root": root, "storage": storage, "study": optuna.load_study(study_name="s", storage=storage),
            "tables": (before, sampler_table())}  # fmt: skip


def trial_model(search: dict, number: int):
    return algo_class(search["algo"]).load(search["root"] / "trials" / f"trial_{number}" / "best_model.zip")


@pytest.mark.slow
def test_search_trials_keep_the_config_policy_kwargs(search):
    """Every trial trains MinAtarCNN with the sampled heads on top (catches: the zoo's ``kwargs.update`` replacing
    the config's policy_kwargs, so the trials train a plain MLP), and the zoo's sampler table is the zoo's again."""
    for trial in search["study"].get_trials():
        policy_kwargs = trial_model(search, trial.number).policy_kwargs
        assert policy_kwargs == {"features_extractor_class": MinAtarCNN, "net_arch": TINY_HEADS, "activation_fn": nn.Tanh}
    before, after = search["tables"]
    assert after == before and after["ppo"] is rl_zoo3.hyperparams_opt.sample_ppo_params


@pytest.mark.slow
def test_trial_id_keeps_the_config_policy_kwargs(search, tmp_path):
    """``--trial-id 1`` trains the trial's heads on MinAtarCNN and config.yml says so (catches: the zoo's
    ``hyperparams.update`` replacing policy_kwargs); ``--trial-id 0``, which the zoo skips silently, is an error."""
    algo, conf = search["algo"], str(MINATAR / f"zoo_{search['algo']}.yml")
    common = ["train", "--algo", algo, "--env", ENV, "-conf", conf, "-f", str(tmp_path), "-n", "512", "--eval-freq", "-1"]
    zoo(*common, "--storage", search["storage"], "--study-name", "s", "--trial-id", "1")
    run = tmp_path / algo / "MinAtar-Breakout-v1_1"
    model = algo_class(algo).load(run / "MinAtar-Breakout-v1.zip")
    assert model.policy_kwargs == trial_model(search, 1).policy_kwargs
    saved = yaml.unsafe_load((run / "MinAtar-Breakout-v1" / "config.yml").read_text())
    assert eval(dict(saved)["policy_kwargs"], ZOO_EVAL) == model.policy_kwargs
    assert cli.main([*common, "--storage", search["storage"], "--study-name", "s", "--trial-id", "0"]) == 1


def hyperparameters(model) -> dict:
    """What a trial sets on the model, comparable across a save and a load (schedules at three points)."""
    names = ["n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda", "ent_coef", "vf_coef", "max_grad_norm", "n_envs",
             "normalize_advantage", "target_kl", "policy_kwargs"]  # fmt: skip
    if isinstance(model, PPOG):
        names += ["ent_coef_decay", "ent_coef_min", "policy_loss", "advantage_estimator"]
    values = {name: getattr(model, name) for name in names}
    for name, schedule in (("learning_rate", model.lr_schedule), ("clip_range", model.clip_range)):
        values[name] = [schedule(progress) for progress in (1.0, 0.5, 0.0)]
    if isinstance(model, PPOG):
        values["vf_learning_rate"] = [model.vf_lr_schedule(progress) for progress in (1.0, 0.5, 0.0)]
    return values


@pytest.mark.slow
def test_best_config_reproduces_the_trial(search, tmp_path):
    """``ppog-zoo train -conf`` the written file trains with the best trial's hyperparameters: the trial's own model
    and the new one agree on every one (catches: the converter's batch_size written instead of the clamped one PPOG's
    sampler used, policy_kwargs replaced instead of merged, a key dropped)."""
    algo = search["algo"]
    best = search["study"].best_trial
    output = tmp_path / f"tuned_{algo}.yml"
    zoo("best-config", "--storage", search["storage"], "--study-name", "s", "--algo", algo, "--env", ENV,
        "-conf", str(MINATAR / f"zoo_{algo}.yml"), "-o", str(output))  # fmt: skip
    text = output.read_text()
    assert f"trial {best.number} of study 's'" in text and "MinAtarCNN" in text
    zoo("train", "--algo", algo, "--env", ENV, "-conf", str(output), "-f", str(tmp_path / "logs"), "-n", "512",
        "--eval-freq", "-1", "--seed", "5")  # fmt: skip
    model = algo_class(algo).load(tmp_path / "logs" / algo / "MinAtar-Breakout-v1_1" / "MinAtar-Breakout-v1.zip")
    assert hyperparameters(model) == hyperparameters(trial_model(search, best.number))
    assert model.batch_size == (512 if algo == "ppog" else 1024)  # 8 envs x 64 steps; the zoo's PPO sampler does not clamp


@pytest.mark.slow
def test_best_config_refuses_what_it_cannot_write(search, tmp_path, zoo_registered):
    """One error line each, nothing written (catches: a best trial of another game's or algorithm's study written
    into this section, an unknown study or trial silently taken as another)."""
    algo, conf, output = search["algo"], str(MINATAR / f"zoo_{search['algo']}.yml"), tmp_path / "tuned.yml"
    with pytest.raises(ZooError, match=f"searched with --env {ENV}, not MinAtar/SpaceInvaders-v1"):
        write_best_config(search["storage"], "s", algo, "MinAtar/SpaceInvaders-v1", conf, str(output))
    other_algo = "ppog" if algo == "ppo" else "ppo"
    with pytest.raises(ZooError, match=f"searched with --algo {algo}, not {other_algo}"):
        write_best_config(search["storage"], "s", other_algo, ENV, conf, str(output))
    with pytest.raises(ZooError, match="no study 'other'.*its studies: s"):
        write_best_config(search["storage"], "other", algo, ENV, conf, str(output))
    with pytest.raises(ZooError, match="--trial-id 7: study 's' has trials 0 to 1"):
        write_best_config(search["storage"], "s", algo, ENV, conf, str(output), trial_number=7)
    assert not output.exists()
    converted = trial_hyperparams(algo, search["study"].trials[0])
    assert converted["batch_size"] == (512 if algo == "ppog" else 1024)

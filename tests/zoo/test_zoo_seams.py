"""The zoo's commands run in-process through their public entry points (``ppog_sb3.zoo.seams``): ``sys.argv`` and
ppog-zoo's names are set for the call only, and every command, finished or failed, leaves the zoo's modules,
``sys.argv`` and matplotlib's backend as it found them."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import types

import matplotlib
import pytest
from zoo_helpers import CONFIG, REPO

from ppog_sb3 import PPOG
from ppog_sb3.ppog import arguments
from ppog_sb3.zoo import cli, fast_env, seams
from ppog_sb3.zoo.exp_manager import PPOGExperimentManager, ZooError

#: The zoo's modules whose globals ppog-zoo hands names to, and those names.
ZOO_MODULES = (
    "rl_zoo3",
    "rl_zoo3.utils",
    "rl_zoo3.exp_manager",
    "rl_zoo3.train",
    "rl_zoo3.enjoy",
    "rl_zoo3.plots.plot_train",
    "rl_zoo3.plots.all_plots",
    "rl_zoo3.plots.plot_from_file",
)
HANDED_IN = ("ExperimentManager", "create_test_env", "StoreDict", "get_model_path", "argparse", "plt")

TINY = ["-params", "n_envs:1", "n_steps:64", "batch_size:32", "n_epochs:1", "policy_kwargs:dict(net_arch=[8])"]


def process_state() -> dict:
    """What no command may leave changed: the handed-in names on every zoo module that has them, ``sys.argv`` (the
    list object too), matplotlib's backend, the standard library's parser and ``pyplot.show``, open figures."""
    from matplotlib import pyplot as plt

    modules = {name: importlib.import_module(name) for name in ZOO_MODULES}
    return {
        "zoo": {(m, n): getattr(module, n) for m, module in modules.items() for n in HANDED_IN if hasattr(module, n)},
        "StoreDict.__call__": modules["rl_zoo3.utils"].StoreDict.__call__,
        "argv": (id(sys.argv), list(sys.argv)),
        "backend": matplotlib.get_backend(),
        "stdlib": (argparse.ArgumentParser, argparse.ArgumentParser.error, plt.show, sys.modules.get("__main__")),
        "record_video module": "rl_zoo3.record_video" in sys.modules,  # runpy runs the script without importing it
        "figures": plt.get_fignums(),
    }


@pytest.fixture
def svg_backend():
    """A backend other than Agg for the test (and back afterwards): a command that switched to Agg would show."""
    from matplotlib import pyplot as plt

    previous = matplotlib.get_backend()
    plt.switch_backend("svg")
    yield
    plt.switch_backend(previous)


def test_every_command_leaves_the_process_as_it_found_it(tmp_path, monkeypatch, capsys, svg_backend):
    """Breaks caught: a name not restored after a command or an error exit (e.g. ``handed_in`` without its
    ``ExitStack``), ``sys.argv`` left set, ``matplotlib.use("Agg")`` for ``plot_train -o``, record_video imported as a
    module; and a name not handed in at all (the spies see no call, progress.csv or the string value is missing)."""
    monkeypatch.chdir(tmp_path)
    calls = []

    def spy(env_id, *args, **kwargs):
        calls.append(env_id)
        return real_create_test_env(env_id, *args, **kwargs)

    real_create_test_env = fast_env.create_test_env
    monkeypatch.setattr(fast_env, "create_test_env", spy)  # what enjoy_names / record_video_names hand in
    run = ["--algo", "ppog", "--env", "CartPole-v1", "-f", "logs"]
    commands = [
        ("train", [*run, "-n", "128", "--num-threads", "1", "--verbose", "0", *TINY, "ent_coef:lin_0.01"], 0),
        ("enjoy", [*run, "--no-render", "-n", "20"], 0),
        ("record_video", [*run, "-n", "10"], 0),
        ("plot_train", ["-a", "ppog", "-e", "CartPole-v1", "-f", "logs", "-w", "1", "-o", "plot.png"], 0),
        ("all_plots", ["-a", "ppog", "-e", "CartPole-v1", "-f", "logs", "--no-display", "-o", "all"], 0),
        ("train", ["--algo", "nope"], 2),  # argparse exits
        ("enjoy", ["--algo", "ppog", "--env", "CartPole-v1", "-f", "nowhere", "--no-render"], 1),  # the zoo raises
        ("record_video", ["--bogus"], 2),  # the script's own parser exits
        ("plot_train", ["-e", "CartPole-v1"], 2),  # -a missing
    ]
    before = process_state()
    assert before["backend"] == "svg"
    for name, argv, code in commands:
        assert cli.main([name, *argv]) == code, (name, argv, capsys.readouterr())
        assert process_state() == before, (name, argv)
    err = capsys.readouterr().err

    run_dir = tmp_path / "logs" / "ppog" / "CartPole-v1_1"
    assert (run_dir / "progress.csv").is_file()  # PPOGExperimentManager built the run
    assert PPOG.load(run_dir / "CartPole-v1.zip").ent_coef == "lin_0.01"  # ppog-zoo's StoreDict kept the string
    assert calls == ["CartPole-v1", "CartPole-v1"]  # enjoy's and record_video's envs: ppog-zoo's create_test_env
    assert list((run_dir / "videos").glob("*.mp4")) and (tmp_path / "plot.png").stat().st_size > 0
    assert (tmp_path / "all.pkl").is_file()
    assert "ppog-zoo train: error: argument --algo: invalid choice: 'nope'" in err
    assert "usage: ppog-zoo train" not in err  # one line, not the zoo's usage block


def test_a_zoo_without_a_name_ppog_zoo_hands_in_fails_loudly(tmp_path, monkeypatch, capsys):
    """Breaks caught: no check before patching (``mock.patch.object``'s own ``AttributeError``, or ``create=True``,
    which would run the zoo's command with ppog-zoo's manager under a name the zoo no longer reads)."""
    import rl_zoo3.train

    monkeypatch.chdir(tmp_path)
    monkeypatch.delattr(rl_zoo3.train, "ExperimentManager")  # as if a zoo release renamed it
    before = process_state()
    assert cli.main(["train", "--algo", "ppog", "--env", "CartPole-v1", "-n", "64", "-f", "logs", *TINY]) == 1
    err = capsys.readouterr().err
    assert "has no rl_zoo3.train.ExperimentManager" in err and "install rl_zoo3 2.9" in err, err
    assert err.count("\n") == 1
    assert not (tmp_path / "logs").exists() and process_state() == before


@pytest.mark.parametrize("leave", [RuntimeError("boom"), SystemExit(2), KeyboardInterrupt()])
def test_handed_in_names_and_argv_are_restored_on_every_way_out(monkeypatch, leave):
    """Breaks caught: restoring only on a normal return (a ``try``/``finally`` or context manager missing)."""
    module = types.ModuleType("fake_zoo_module")
    module.ExperimentManager = original = object()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_zoo_module", module)
    argv = sys.argv
    with pytest.raises(type(leave)), seams.zoo_command("prog", ["--x"], {"fake_zoo_module": {"ExperimentManager": "ours"}}):
        assert module.ExperimentManager == "ours" and sys.argv == ["prog", "--x"]  # type: ignore[attr-defined]
        raise leave
    assert module.ExperimentManager is original and sys.argv is argv  # type: ignore[attr-defined]


def test_no_cloned_functions_or_library_source_in_the_package():
    """The issue's check, ``grep -rn "exec(\\|FunctionType\\|getsource\\|matplotlib.use(" ppog_sb3``, as a test.
    Breaks caught: any of them back in a package file (e.g. ``matplotlib.use("Agg")`` in cli.py)."""
    pattern = re.compile(r"exec\(|FunctionType|getsource|matplotlib\.use\(")
    hits = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted((REPO / "ppog_sb3").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert hits == []


# ---------------------------------------------------------------------- one check per argument
BAD_HYPERPARAMS = [
    {"ent_coef_decay": 1.5},
    {"ent_coef": 0.01, "ent_coef_min": 0.1},
    {"ent_coef": "lin_x"},
    {"policy_loss": "bogus"},
    {"advantage_estimator": "td"},
    {"precision": "fp16"},
    {"clip_range": 0.0},
    {"clip_range_vf": -1.0},
    {"vf_learning_rate": 0.0},
    {"n_steps": 0},
    {"n_epochs": 2.5},
    {"batch_size": 1},
]


@pytest.mark.parametrize("bad", BAD_HYPERPARAMS, ids=lambda bad: ",".join(bad))
def test_the_managers_checks_are_the_constructors(tmp_path, monkeypatch, bad):
    """The manager checks a config with ppog/arguments.py's checks, as PPOG's constructor does (same message), and
    builds no model for it. Breaks caught: a check missing from ``arguments.check_arguments`` (no error), a different
    check than the constructor's (another message), a throwaway ``PPOG(...)`` back in the manager."""
    with pytest.raises(ValueError) as constructor:
        PPOG(env=None, _init_setup_model=False, policy="MlpPolicy", **bad)  # type: ignore[arg-type]
    manager = PPOGExperimentManager(
        argparse.Namespace(), "ppog", "CartPole-v1", str(tmp_path), n_timesteps=64, config=str(CONFIG)
    )

    def no_model(*args, **kwargs):
        raise AssertionError("the manager built a PPOG to check its arguments")

    monkeypatch.setattr(PPOG, "__init__", no_model)
    manager._check_ppog_hyperparams({"policy": "MlpPolicy"})  # a good config passes, without a model
    with pytest.raises(ZooError) as checked:
        manager._check_ppog_hyperparams({"policy": "MlpPolicy", **bad})
    assert str(constructor.value) in str(checked.value)
    assert isinstance(constructor.value, arguments.InvalidArgumentError)


def test_an_unknown_policy_name_is_a_zoo_error(tmp_path):
    manager = PPOGExperimentManager(
        argparse.Namespace(), "ppog", "CartPole-v1", str(tmp_path), n_timesteps=64, config=str(CONFIG)
    )
    with pytest.raises(ZooError, match="policy='MlpPolicyy'.*'MlpPolicy', 'CnnPolicy', 'MultiInputPolicy'"):
        manager._check_ppog_hyperparams({"policy": "MlpPolicyy"})

"""Which file ``ppog-zoo enjoy`` / ``record_video`` load (:mod:`ppog_sb3.zoo.model_path`): the zoo's choice for every
flag, plus the run's ``--checkpoint-freq`` checkpoint for ``--load-checkpoint`` and ``--load-last-checkpoint``.
In-process on folders of empty files (the function only looks at names); the CLI runs in test_zoo_restart_resume.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_sb3 import EnvironmentName
from rl_zoo3.utils import get_model_path as zoo_get_model_path

from ppog_sb3.zoo.model_path import get_model_path

ENV = EnvironmentName("CartPole-v1")


def run_folder(root: Path, *files: str) -> Path:
    run = root / "ppog" / "CartPole-v1_1"
    for name in files:
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).touch()
    return run


def chosen(root: Path, **flags) -> str:
    prefix, model, log_path = get_model_path(1, str(root), "ppog", ENV, **flags)
    assert log_path == str(root / "ppog" / "CartPole-v1_1")
    return f"{prefix} {Path(model).relative_to(log_path)}"


def test_without_checkpoint_flags_it_is_the_zoos_function(tmp_path):
    """Catches: the final or best model resolved differently from the zoo (e.g. our checkpoint taken for them)."""
    run_folder(tmp_path, "CartPole-v1.zip", "best_model.zip", "checkpoint/model_4096_steps.zip")
    for flags in ({}, {"load_best": True}, {"load_best": True, "load_last_checkpoint": True}):
        assert get_model_path(1, str(tmp_path), "ppog", ENV, **flags) == zoo_get_model_path(
            1, str(tmp_path), "ppog", ENV, **flags
        )


def test_the_runs_checkpoint_is_found_and_the_zoos_file_wins_a_tie(tmp_path):
    """Catches: --load-last-checkpoint blind to checkpoint/ (the zoo's behaviour: "No checkpoint found"), the older
    of the two kinds taken, and our file taken over the zoo's own at the same step."""
    run_folder(tmp_path, "CartPole-v1.zip", "checkpoint/checkpoint.yml", "checkpoint/model_3072_steps.zip")
    assert chosen(tmp_path, load_last_checkpoint=True) == "checkpoint-3072-ppog-CartPole-v1 checkpoint/model_3072_steps.zip"
    assert chosen(tmp_path, load_checkpoint="3072") == "checkpoint-3072-ppog-CartPole-v1 checkpoint/model_3072_steps.zip"
    run_folder(tmp_path, "rl_model_2048_steps.zip")  # the zoo's --save-freq file, older
    assert chosen(tmp_path, load_last_checkpoint=True).endswith(" checkpoint/model_3072_steps.zip")
    assert chosen(tmp_path, load_checkpoint="2048") == "checkpoint-2048-ppog-CartPole-v1 rl_model_2048_steps.zip"
    run_folder(tmp_path, "rl_model_3072_steps.zip", "rl_model_10240_steps.zip")
    assert chosen(tmp_path, load_checkpoint="3072").endswith(" rl_model_3072_steps.zip")
    assert chosen(tmp_path, load_last_checkpoint=True) == "checkpoint-10240-ppog-CartPole-v1 rl_model_10240_steps.zip"


def test_the_latest_run_is_found_with_exp_id_0(tmp_path, capsys):
    run_folder(tmp_path, "checkpoint/model_1024_steps.zip")
    (tmp_path / "ppog" / "CartPole-v1_2" / "checkpoint").mkdir(parents=True)
    (tmp_path / "ppog" / "CartPole-v1_2" / "checkpoint" / "model_512_steps.zip").touch()
    _prefix, model, _log = get_model_path(0, str(tmp_path), "ppog", ENV, load_last_checkpoint=True)
    assert model == str(tmp_path / "ppog" / "CartPole-v1_2" / "checkpoint" / "model_512_steps.zip")
    assert "Loading latest experiment, id=2" in capsys.readouterr().out


def test_a_missing_checkpoint_names_the_flag_and_what_is_there(tmp_path):
    """Catches: a bare KeyError / the zoo's message without the step that the folder does hold."""
    run_folder(tmp_path, "CartPole-v1.zip", "checkpoint/model_3072_steps.zip")
    with pytest.raises(ValueError, match=r"--load-checkpoint 1024: no checkpoint .* checkpoint is at step 3072"):
        get_model_path(1, str(tmp_path), "ppog", ENV, load_checkpoint="1024")
    empty = tmp_path / "empty"
    run_folder(empty, "CartPole-v1.zip")
    with pytest.raises(ValueError, match=r"--load-last-checkpoint: no checkpoint .*rl_model_\*_steps.zip"):
        get_model_path(1, str(empty), "ppog", ENV, load_last_checkpoint=True)
    with pytest.raises(AssertionError, match="folder was not found"):
        get_model_path(3, str(empty), "ppog", ENV, load_last_checkpoint=True)


def test_a_normalized_runs_checkpoint_is_refused_not_played_with_other_statistics(tmp_path):
    """Catches: a VecNormalize checkpoint loaded with the final (or no) statistics that enjoy would apply."""
    run_folder(tmp_path, "checkpoint/model_3072_steps.zip", "checkpoint/CartPole-v1/vecnormalize.pkl")
    with pytest.raises(ValueError, match="checkpoint of a VecNormalize run"):
        get_model_path(1, str(tmp_path), "ppog", ENV, load_last_checkpoint=True)
    run_folder(tmp_path, "rl_model_4096_steps.zip")  # the zoo's own checkpoint: the zoo's behaviour, not refused
    assert chosen(tmp_path, load_last_checkpoint=True).endswith(" rl_model_4096_steps.zip")

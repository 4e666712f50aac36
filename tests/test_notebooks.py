"""The notebooks (``notebooks/*.ipynb``): committed without outputs, and executed top to bottom with nbclient at the
``small`` budget (no GPU, display or internet), as CI does."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
NAMES = ("quickstart.ipynb", "ppog_vs_ppo.ipynb")
CELL_TIMEOUT = 900


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_clean(name):
    """Valid nbformat 4, no outputs or execution counts, small file, the python3 kernel."""
    path = NOTEBOOKS / name
    assert path.stat().st_size < 40_000
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    assert "widgets" not in notebook.metadata
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: a cell has outputs (strip them)"
    text = path.read_text()
    assert "PPOG_NOTEBOOK_BUDGET" in text


def execute(name: str, monkeypatch, tmp_path: Path, **env: str) -> nbformat.NotebookNode:
    """Run a notebook in a fresh kernel (cwd: notebooks/), small budget, one thread per process (2-core CI)."""
    from nbclient import NotebookClient

    settings = {
        "PPOG_NOTEBOOK_BUDGET": "small",
        "PPOG_NOTEBOOK_OUT": str(tmp_path / "out"),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        **env,
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)  # the kernel inherits this process's environment
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> tuple[list[str], str]:
    """(MIME types of all rich outputs, all printed and markdown text)."""
    mimes, texts = [], []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                texts.append(output.text)
            for mime, data in output.get("data", {}).items():
                mimes.append(mime)
                if mime in ("text/markdown", "text/plain"):
                    texts.append(data)
    return mimes, "\n".join(texts)


@pytest.mark.slow
def test_quickstart_runs(monkeypatch, tmp_path):
    notebook = execute("quickstart.ipynb", monkeypatch, tmp_path)
    mimes, text = outputs(notebook)
    assert mimes.count("image/png") >= 3  # CartPole and Space Invaders curves, entropy decay
    assert "image/gif" in mimes
    assert "CartPole evaluation" in text and "Space Invaders evaluation" in text
    gif = (tmp_path / "out" / "space_invaders.gif").read_bytes()
    assert gif[:6] in (b"GIF87a", b"GIF89a") and 10_000 < len(gif) < 1_000_000
    for name in ("cartpole", "space_invaders"):
        assert (tmp_path / "out" / name / "progress.csv").stat().st_size > 0


@pytest.mark.slow
def test_ppog_vs_ppo_runs(monkeypatch, tmp_path):
    """Default settings: the committed results/logs where they have both algorithms, small runs otherwise."""
    notebook = execute("ppog_vs_ppo.ipynb", monkeypatch, tmp_path, PPOG_NOTEBOOK_LOGS=str(tmp_path / "logs"))
    mimes, text = outputs(notebook)
    study_pngs = sorted(p.name for p in (tmp_path / "out" / "minatar").glob("*.png"))
    assert {"aggregate.png", "probability_of_improvement.png", "performance_profiles.png", "curves_zoo.png"} <= set(study_pngs)
    # Space Invaders: the committed study (3 seeds of each arm, reference arm PPO) is drawn. (Without runs the notebook
    # says why there is no report: test_ppog_vs_ppo_trains_without_results.)
    si_pngs = list((tmp_path / "out" / "space_invaders").glob("*.png"))
    si_logs = REPO / "results" / "logs" / "space_invaders"
    assert len(list((si_logs / "zoo" / "ppo").rglob("*.study_run.yml"))) == 3, "the committed study's reference arm"
    assert si_pngs and "no finished run of the reference arm" not in text and "no finished study run in" not in text
    # a row of three plots per task, the studies', the searches' best value so far (results/tuning)
    # ... and the main job's two curves (agent steps, training hours), below
    assert mimes.count("image/png") == 2 + len(study_pngs) + len(si_pngs) + 1 + 2
    assert "# Hyperparameter searches" in text and "| ppog_Breakout | ppog |" in text and "| ppo_Breakout | ppo |" in text
    assert "| ppog |" in text and "| ppo |" in text
    assert "IQM of normalized final score" in text and "| zoo | ppog |" in text  # the committed MinAtar study
    assert len(list((tmp_path / "out").glob("*_learning_curves.png"))) == 2
    assert len(list((tmp_path / "out").glob("*_final_scores.csv"))) == 2
    # The main job (results/logs/main_job, committed at every session's end): its score beside the published anchors,
    # one segment row per training process and a total. Catches the section dropped, or reading the wrong folder.
    assert "**Main job**:" in text and "| this run, PPOG, seed 0 (" in text and "| CleanRL ppo_atari_envpool_xla_jax |" in text
    main_job_segments = list(csv.DictReader((tmp_path / "out" / "main_job" / "ppog-SpaceInvaders-v5_segments.csv").open()))
    assert main_job_segments and text.count("| ppog/ppog-SpaceInvaders-v5_1 |") == len(main_job_segments) + 1
    assert {p.name for p in (tmp_path / "out" / "main_job").glob("*learning_curves*.png")} == {
        "ppog-SpaceInvaders-v5_learning_curves.png",
        "ppog-SpaceInvaders-v5_learning_curves_walltime.png",
    }


@pytest.mark.slow
def test_ppog_vs_ppo_trains_without_results(monkeypatch, tmp_path):
    """No results folder: the notebook trains PPOG and PPO itself (CartPole only, to keep CI short)."""
    notebook = execute(
        "ppog_vs_ppo.ipynb",
        monkeypatch,
        tmp_path,
        PPOG_NOTEBOOK_RESULTS="none",
        PPOG_NOTEBOOK_ENVS="CartPole-v1",
        PPOG_NOTEBOOK_LOGS=str(tmp_path / "logs"),
        PPOG_NOTEBOOK_STUDY_LOGS=str(tmp_path / "no_study"),
        PPOG_NOTEBOOK_TUNING=str(tmp_path / "no_tuning"),
        PPOG_NOTEBOOK_MAIN_JOB=str(tmp_path / "no_main_job"),
    )
    _, text = outputs(notebook)
    assert "training (small budget)" in text
    assert f"no main-job run in {tmp_path / 'no_main_job'}: make train trains it" in text
    assert "no finished study run in" in text and "no search database in" in text
    for algo in ("ppog", "ppo"):
        runs = sorted(path.name for path in (tmp_path / "logs" / algo).iterdir())
        assert runs == ["CartPole-v1_1", "CartPole-v1_2"]
    assert "| ppog | 2 | 0 1 |" in text and "| ppo | 2 | 0 1 |" in text
    # ppog-zoo train writes progress.csv (SB3's logger rows) in every run: the clip and masked fraction plots need it
    assert len(list((tmp_path / "logs").rglob("progress.csv"))) == 4
    for plot in ("clip_fraction", "masked_fraction"):
        assert (tmp_path / "out" / f"CartPole-v1_{plot}.png").stat().st_size > 10_000

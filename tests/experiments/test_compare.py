"""``ppog-zoo compare`` (:mod:`ppog_sb3.experiments.compare`): statistics and readers on tiny monitor files made here,
and the whole command on small REAL zoo runs (PPOG and PPO on CartPole-v1, 2 seeds each, made once per test session)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from core_only import core_python
from experiment_helpers import ENV, REPO, fake_run, write_monitor

from ppog_sb3.experiments import compare

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SEEDS = (0, 1)
ALGOS = ("ppog", "ppo")
STEPS = 3000
#: Small runs: 2 envs, a tiny network, 2 epochs (a few seconds each)
SMALL_PARAMS = ["-params", "n_envs:2", "n_steps:64", "batch_size:64", "n_epochs:2", "policy_kwargs:dict(net_arch=[32])"]


# ---------------------------------------------------------------------- tiny run folders made here
def is_png(path: Path, min_bytes: int = 10_000) -> bool:
    data = path.read_bytes()
    return data[:8] == PNG_MAGIC and len(data) >= min_bytes


def test_env_folder_name():
    assert compare.env_folder_name("CartPole-v1") == "CartPole-v1"
    assert compare.env_folder_name("ppog/SpaceInvaders-v5") == "ppog-SpaceInvaders-v5"
    assert compare.env_folder_name("my_module:MyEnv-v0") == "MyEnv-v0"


def test_find_runs_order_and_names(tmp_path):
    for n in (10, 2, 1):
        fake_run(tmp_path, "ppog", n, [1.0])
    (tmp_path / "ppog" / "CartPole-v1_3_0123abcd-0123-4567-89ab-0123456789ab").mkdir()  # --uuid run
    (tmp_path / "ppog" / "CartPole-v10_1").mkdir()  # another env
    (tmp_path / "ppog" / "CartPole-v1_x").mkdir()  # not a run
    names = [p.name for p in compare.find_runs(tmp_path, ENV, "ppog")]
    assert names == ["CartPole-v1_1", "CartPole-v1_2", "CartPole-v1_3_0123abcd-0123-4567-89ab-0123456789ab", "CartPole-v1_10"]
    assert compare.find_runs(tmp_path, ENV, "ppo") == []
    assert compare.find_runs(tmp_path / "missing", ENV, "ppog") == []


def test_load_run_merges_monitor_files_by_end_time(tmp_path):
    run = tmp_path / "run"
    write_monitor(run / "0.monitor.csv", [(1.0, 10, 1.0), (3.0, 30, 5.0)], t_start=100.0)
    write_monitor(run / "1.monitor.csv", [(2.0, 20, 1.5)], t_start=102.0)  # ends at 103.5 -> second
    with open(run / "1.monitor.csv", "a") as file:
        file.write("4.0,4")  # a row being written when the file was read
    episodes = compare.load_run(run, algo="ppog")
    assert list(episodes["reward"]) == [1.0, 2.0, 3.0]
    assert list(episodes["timesteps"]) == [10.0, 30.0, 60.0]
    assert list(episodes["episode"]) == [1, 2, 3]
    assert np.allclose(episodes["walltime_h"] * 3600, [1.0, 3.5, 5.0])
    assert set(episodes["algo"]) == {"ppog"} and set(episodes["run"]) == {"run"}


def test_frames_per_step(tmp_path):
    """Zoo ALE runs: the Monitor sits below AtariWrapper, so its lengths are frames (frame_skip per agent step)."""
    run = fake_run(tmp_path, "ppo", 1, [5.0, 7.0], length=400, env="SpaceInvadersNoFrameskip-v4")
    assert compare.frames_per_step(run, "SpaceInvadersNoFrameskip-v4") == 4  # no config.yml: from the id
    assert list(compare.load_run(run)["timesteps"]) == [100.0, 200.0]
    config = run / "SpaceInvadersNoFrameskip-v4" / "config.yml"
    config.parent.mkdir()
    config.write_text(
        "!!python/object/apply:collections.OrderedDict\n- - - env_wrapper\n"
        "    - - stable_baselines3.common.atari_wrappers.AtariWrapper:\n          frame_skip: 2\n"
        "  - - seed_unused\n    - 1\n"
    )
    assert compare.frames_per_step(run, "SpaceInvadersNoFrameskip-v4") == 2
    assert list(compare.load_run(run, frame_skip=1)["timesteps"]) == [400.0, 800.0]
    (run / "args.yml").write_text("!!python/object/apply:collections.OrderedDict\n- - - seed\n    - 7\n")
    assert compare.run_seed(run) == 7
    plain = fake_run(tmp_path, "ppo", 1, [1.0], env="ppog/SpaceInvaders-v5")
    assert compare.frames_per_step(plain, "ppog/SpaceInvaders-v5") == 1


def test_aggregate_runs_mean_and_t_interval():
    """The band is the Student t interval: t quantiles from printed tables (t_{0.975,1} = 12.7062, t_{0.975,2} =
    4.3027, t_{0.975,100} = 1.9840). Catches a quantile table cut off at 30 degrees of freedom (the normal 1.96 beyond)
    or rounded to 3 decimals, as the one this replaced."""
    data = pd.DataFrame(
        {
            "algo": ["a"] * 4 + ["b"] * 2,
            "run": ["r1", "r1", "r2", "r2", "r3", "r3"],
            "x": [0.0, 10.0, 0.0, 10.0, 0.0, 10.0],
            "y": [1.0, 1.0, 3.0, 3.0, 5.0, 5.0],
        }
    )
    curves = compare.aggregate_runs(data, "x", "y", n_points=11)
    a = curves[curves["algo"] == "a"]
    assert len(a) == 11 and np.allclose(a["mean"], 2.0) and np.allclose(a["std"], math.sqrt(2))
    assert np.allclose(a["high"] - a["mean"], 12.7062047, rtol=0, atol=1e-7)  # t_{0.975,1} * sqrt(2) / sqrt(2)
    assert set(a["n_runs"]) == {2}
    b = curves[curves["algo"] == "b"]
    assert np.allclose(b["mean"], 5.0) and np.allclose(b["low"], 5.0) and np.allclose(b["high"], 5.0)
    assert compare.t_quantile_975(2) == pytest.approx(4.3026527, abs=1e-7)
    assert compare.t_quantile_975(100) == pytest.approx(1.9839715, abs=1e-7) and math.isnan(compare.t_quantile_975(0))


def test_aggregate_runs_common_range_and_smoothing():
    data = pd.DataFrame(
        {
            "algo": ["a"] * 5,
            "run": ["short", "short", "long", "long", "long"],
            "x": [0.0, 5.0, 0.0, 5.0, 10.0],
            "y": [0.0, 2.0, 0.0, 2.0, 4.0],
        }
    )
    curves = compare.aggregate_runs(data, "x", "y", window=2, n_points=6)
    assert curves["x"].max() == 5.0 and set(curves["n_runs"]) == {2}  # only where both runs are
    assert curves["mean"].iloc[-1] == pytest.approx(1.0)  # rolling mean of (0, 2)
    everywhere = compare.aggregate_runs(data, "x", "y", n_points=11, common_range=False)
    assert everywhere["x"].max() == 10.0 and everywhere["n_runs"].iloc[-1] == 1


def test_final_scores_and_threshold():
    rows = []
    for run, rewards in (("r1", [0, 10, 20, 30]), ("r2", [0, 0, 10, 10])):
        for i, reward in enumerate(rewards):
            rows.append(
                {
                    "algo": "ppog",
                    "run": run,
                    "seed": int(run[1]),
                    "episode": i + 1,
                    "timesteps": 100.0 * (i + 1),
                    "reward": float(reward),
                }
            )
    episodes = pd.DataFrame(rows)
    per_run = compare.final_scores_per_run(episodes, last=2, threshold=15, window=1)
    assert list(per_run["final_score"]) == [25.0, 10.0]
    assert per_run["steps_to_threshold"].iloc[0] == 300.0 and math.isnan(per_run["steps_to_threshold"].iloc[1])
    table = compare.final_scores(episodes, last=2, threshold=15, window=1)
    row = table.iloc[0]
    assert row["runs"] == 2 and row["seeds"] == "1 2" and row["reached"] == "1/2"
    assert row["final_mean"] == 17.5 and row["final_std"] == pytest.approx(np.std([25, 10], ddof=1))
    assert row["steps_to_threshold_mean"] == 300.0
    markdown = compare.scores_markdown(table, last=2, threshold=15)
    assert "| ppog | 2 | 1 2 | 4 | 17.5 ± 10.6 | 300 ± 0 | 1/2 |" in markdown


def test_compare_on_tiny_runs_without_progress(tmp_path, capsys):
    for n, algo in enumerate(ALGOS * 2):
        fake_run(tmp_path / "logs", algo, n + 1, list(np.linspace(10, 100 if algo == "ppog" else 50, 30)))
    code = compare.main(["-f", str(tmp_path / "logs"), "--env", ENV, "-o", str(tmp_path / "report"), "--window", "5"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "no progress.csv" in err
    assert is_png(tmp_path / "report" / "CartPole-v1_learning_curves.png")
    assert not (tmp_path / "report" / "CartPole-v1_approx_kl.png").exists()
    assert "| ppog | 2 |" in out and "| ppo | 2 |" in out


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "does not exist"),
        ("empty", "no runs with finished episodes found for CartPole-v1"),
        ("other_env", "no runs with finished episodes found for CartPole-v1"),
        ("no_episodes", "no runs with finished episodes found for CartPole-v1"),
    ],
)
def test_user_errors_are_one_line(tmp_path, capsys, setup, message):
    logs = tmp_path / "logs"
    if setup != "missing":
        logs.mkdir()
    if setup == "other_env":
        fake_run(logs, "ppog", 1, [1.0], env="Acrobot-v1")
    if setup == "no_episodes":
        write_monitor(logs / "ppog" / "CartPole-v1_1" / "0.monitor.csv", [])
    code = compare.main(["-f", str(logs), "--env", ENV, "-o", str(tmp_path / "report")])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("ppog-zoo compare: error: ") and message in err, err
    assert not (tmp_path / "report").exists()


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert compare.main(["--env", ENV]) == 2  # no -f
    assert compare.main(["-f", str(tmp_path), "--env", ENV, "--x", "frames"]) == 2
    assert compare.main(["-f", str(tmp_path), "--env", ENV, "--window", "0"]) == 2
    capsys.readouterr()


# ---------------------------------------------------------------------- real zoo runs
def zoo_env() -> dict[str, str]:
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("PPOG_ZOO_DEBUG", None)
    return env


def train_command(algo: str, seed: int, logs: Path) -> list[str]:
    config = REPO / "zoo_configs" / f"{algo}.yml"
    return [core_python(), "-m", "ppog_sb3.zoo", "train", "--algo", algo, "--env", ENV, "-conf", str(config)] + [
        "-f",
        str(logs),
        "-n",
        str(STEPS),
        "--seed",
        str(seed),
        *SMALL_PARAMS,
    ]


@pytest.fixture(scope="session")
def zoo_logs(tmp_path_factory) -> Path:
    """``ppog-zoo train`` of PPOG and PPO on CartPole-v1, seeds 0 and 1: PPOG and PPO of one seed at a time (2 cores;
    different algorithm folders, so the runs of each algorithm are numbered in the order of their seeds)."""
    logs = tmp_path_factory.mktemp("compare") / "logs"
    for seed in SEEDS:
        commands = [train_command(algo, seed, logs) for algo in ALGOS]
        procs = [
            subprocess.Popen(command, env=zoo_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for command in commands
        ]
        for command, proc in zip(commands, procs):
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, f"$ {' '.join(command)}\n{out[-2000:]}\n{err[-3000:]}"
    return logs


def has_progress(logs: Path) -> bool:
    return all(compare.find_progress_file(run) for algo in ALGOS for run in compare.find_runs(logs, ENV, algo))


@pytest.mark.slow
def test_real_runs_are_read(zoo_logs):
    for algo in ALGOS:
        runs = compare.find_runs(zoo_logs, ENV, algo)
        assert [compare.run_seed(run) for run in runs] == list(SEEDS)
        episodes = compare.load_runs(zoo_logs, ENV, algo)
        assert set(episodes["run"]) == {run.name for run in runs}
        for _, run in episodes.groupby("run"):
            assert run["timesteps"].is_monotonic_increasing and run["timesteps"].max() <= STEPS + 2 * 64
        assert (episodes["reward"] == episodes["length"]).all()  # CartPole: 1 per step


@pytest.mark.slow
def test_compare_command_on_real_runs(zoo_logs, tmp_path, capsys):
    report = tmp_path / "report"
    code = compare.main(["-f", str(zoo_logs), "--env", ENV, "-o", str(report), "--threshold", "30", "--window", "10"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert has_progress(zoo_logs), "ppog-zoo train wrote no progress.csv (SB3's CSV logger output) in a run folder"
    assert "no progress.csv" not in err
    for name in ("learning_curves", "clip_fraction", "masked_fraction", "approx_kl"):
        assert is_png(report / f"CartPole-v1_{name}.png"), name

    table = pd.read_csv(report / "CartPole-v1_final_scores.csv")
    assert list(table["algo"]) == list(ALGOS)
    assert list(table["runs"]) == [2, 2] and list(table["seeds"]) == ["0 1", "0 1"]
    assert table["final_mean"].between(8, 500).all() and (table["final_std"] >= 0).all()
    assert set(table["reached"]) <= {"0/2", "1/2", "2/2"}
    per_run = pd.read_csv(report / "CartPole-v1_final_scores_per_run.csv")
    assert len(per_run) == 4 and set(per_run["seed"]) == set(SEEDS)
    markdown = (report / "CartPole-v1_final_scores.md").read_text()
    for algo in ALGOS:
        assert f"| {algo} | 2 | 0 1 |" in markdown and f"| {algo} | 2 | 0 1 |" in out
    assert "steps to 30" in out


@pytest.mark.slow
def test_plots_hold_both_algorithms(zoo_logs):
    episodes, progress, _notes = compare.load_comparison(zoo_logs, ENV, ALGOS)
    fig, curves = compare.plot_learning_curves(episodes, window=10)
    assert set(curves["algo"]) == set(ALGOS)
    assert (curves["n_runs"] == 2).all()
    assert ((curves["low"] <= curves["mean"] + 1e-9) & (curves["mean"] <= curves["high"] + 1e-9)).all()
    assert len(fig.axes[0].lines) >= 2  # one mean line per algorithm
    for algo in ALGOS:
        curve = curves[curves["algo"] == algo]
        assert curve["x"].is_monotonic_increasing and curve["mean"].between(8, 500).all()
    assert has_progress(zoo_logs), "ppog-zoo train wrote no progress.csv (SB3's CSV logger output) in a run folder"
    _, clip = compare.plot_clip_fraction(progress)
    ppog_rows = progress[progress["algo"] == "ppog"]
    legacy = any(compare.has_legacy_clip_fraction(run) for _, run in ppog_rows.groupby("run"))  # one algo: run is a key
    # like with like: SB3's clip fraction for both; PPOG only when its runs log SB3's meaning (not the old mask copy)
    assert set(clip["metric"]) == {"train/clip_fraction"}
    assert set(clip["algo"]) == ({"ppo"} if legacy else {"ppog", "ppo"})
    assert clip["mean"].between(0, 1).all() and (clip["n_runs"] == 2).all()
    _, masked = compare.plot_masked_fraction(progress)
    assert set(masked["algo"]) == {"ppog"} and set(masked["metric"]) == {"train/masked_fraction"}  # PPO has no mask
    assert masked["mean"].between(0, 1).all() and (masked["n_runs"] == 2).all()
    _, kl = compare.plot_approx_kl(progress)
    assert set(kl["algo"]) == set(ALGOS) and set(kl["metric"]) == {"train/approx_kl"} and (kl["mean"] >= 0).all()


@pytest.mark.slow
def test_missing_progress_is_skipped_with_a_note(zoo_logs, tmp_path, capsys):
    logs = tmp_path / "logs"
    shutil.copytree(zoo_logs, logs)
    for path in logs.rglob("progress.csv"):
        path.unlink()
    code = compare.main(["-f", str(logs), "--env", ENV, "-o", str(tmp_path / "report")])
    _, err = capsys.readouterr()
    assert code == 0 and "no progress.csv" in err
    assert is_png(tmp_path / "report" / "CartPole-v1_learning_curves.png")
    assert not list((tmp_path / "report").glob("*fraction*.png"))


@pytest.mark.slow
def test_ppog_zoo_compare_subcommand(zoo_logs, tmp_path):
    """The console command (``python -m ppog_sb3.zoo compare``): registered in ppog-zoo, and working."""
    from ppog_sb3.zoo import cli

    assert "compare" in cli.COMMANDS, "ppog-zoo has no 'compare' command (ppog_sb3/zoo/cli.py)"
    base = [core_python(), "-m", "ppog_sb3.zoo", "compare", "--env", ENV, "-o", str(tmp_path / "report")]
    proc = subprocess.run([*base, "-f", str(zoo_logs)], capture_output=True, text=True, env=zoo_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert is_png(tmp_path / "report" / "CartPole-v1_learning_curves.png")
    assert "| ppog | 2 | 0 1 |" in proc.stdout
    proc = subprocess.run([*base, "-f", str(tmp_path / "nowhere")], capture_output=True, text=True, env=zoo_env(), timeout=300)
    assert proc.returncode != 0 and "does not exist" in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr


def test_legacy_clip_fraction_is_recognised_and_left_out():
    """Old PPOG logs (clip_fraction was the masked fraction) vs SB3's meaning (clip >= masked, larger somewhere)."""
    steps = [100, 200, 300]

    def run(algo, name, clip, masked=None):
        table = pd.DataFrame({"algo": algo, "run": name, "timesteps": steps, "train/clip_fraction": clip})
        if masked is not None:
            table["train/masked_fraction"] = masked
        return table

    old = run("ppog", "old", [0.1, 0.2, 0.1], [0.1, 0.2, 0.1])
    new = run("ppog", "new", [0.3, 0.4, 0.2], [0.1, 0.2, 0.1])
    ppo = run("ppo", "ppo", [0.3, 0.3, 0.3])
    assert compare.has_legacy_clip_fraction(old)
    assert not compare.has_legacy_clip_fraction(new) and not compare.has_legacy_clip_fraction(ppo)
    progress = pd.concat([old, new, ppo], ignore_index=True)
    _, clip = compare.plot_clip_fraction(progress, window=1)
    assert set(clip["algo"]) == {"ppog", "ppo"} and (clip[clip["algo"] == "ppog"]["n_runs"] == 1).all()  # "old" left out
    assert clip[clip["algo"] == "ppog"]["mean"].max() == pytest.approx(0.4, abs=1e-2)  # the new run, on the grid
    _, masked = compare.plot_masked_fraction(progress, window=1)
    assert set(masked["algo"]) == {"ppog"} and (masked["n_runs"] == 2).all()


def test_a_monitor_clock_restarted_at_a_resume_is_mended(tmp_path):
    """Runs resumed before the monitors continued their clock restart ``t`` at 0 in each new segment of their one
    monitor file: read in the file's order (their time order), ``t`` continued; every other folder reads exactly as
    SB3's ``load_results``, and the files on disk stay as written. Catches the mend left out (``load_results`` sorts
    the second segment in among the first), applied where it does not belong (no ``resumes.csv``, several files),
    or a reader that writes the mended clock back."""
    from stable_baselines3.common.monitor import load_results

    # first segment: 3 episodes, the last two 2 ms apart in reverse (two envs ending in one step); then a resume
    rows = [(10.0, 10, 1.0), (20.0, 20, 5.002), (30.0, 30, 5.0), (40.0, 40, 0.5), (50.0, 50, 2.0)]
    plain, resumed = tmp_path / "plain", tmp_path / "resumed"
    for folder in (plain, resumed):
        write_monitor(folder / "0.monitor.csv", rows)
    header = "resume,num_timesteps,train_seconds_before,resumed_at,machine,code\n"
    (resumed / "resumes.csv").write_text(header)
    written = (resumed / "0.monitor.csv").read_bytes()

    data, env_id = compare.read_monitor_files(plain)
    reference = load_results(str(plain))
    assert reference["r"].tolist() == [40.0, 10.0, 50.0, 30.0, 20.0]  # the second segment sorted in: what is mended
    assert env_id == "CartPole-v1" and data["r"].tolist() == reference["r"].tolist()
    assert data["t"].tolist() == reference["t"].tolist()

    data, _ = compare.read_monitor_files(resumed)
    # the file's order; the jitter stays (5.002, 5.0: sorted by t); from the restart on, 5.0 is added: 5.5, 7.0
    assert data["r"].tolist() == [10.0, 30.0, 20.0, 40.0, 50.0]
    assert data["t"].tolist() == pytest.approx([1.0, 5.0, 5.002, 5.5, 7.0])
    assert compare.load_run(resumed)["timesteps"].tolist() == [10, 40, 60, 100, 150]
    assert (resumed / "0.monitor.csv").read_bytes() == written  # the raw log stays as written

    # a run resumed since the fix, with a monitor file per env: the clocks continue, read as load_results
    several = tmp_path / "several"
    write_monitor(several / "0.monitor.csv", [(10.0, 10, 1.0), (30.0, 30, 5.0), (40.0, 40, 8.0)])
    write_monitor(several / "1.monitor.csv", [(60.0, 60, 20.0)], t_start=1000.5)  # in file order, 5.0 follows 20.5
    (several / "resumes.csv").write_text(header)
    data, _ = compare.read_monitor_files(several)
    assert data["r"].tolist() == load_results(str(several))["r"].tolist() == [10.0, 30.0, 40.0, 60.0]
    assert data["t"].tolist() == pytest.approx([1.0, 5.0, 8.0, 20.5])


@pytest.mark.parametrize("algo", ["ppo", "ppog"])
def test_the_committed_resumed_space_invaders_runs_read_in_file_order(algo):
    """The ALE study's seed-1 runs resumed once with a restarted clock: their episodes are the file's rows in order,
    so the final score is the mean of the file's last 100 rows."""
    run_dir = REPO / "results" / "logs" / "space_invaders" / "zoo" / algo / "seed_1" / algo / "ppog-SpaceInvaders-v5_1"
    raw = pd.read_csv(run_dir / "0.monitor.csv", skiprows=1)
    assert (raw["t"].diff() < -1000).sum() == 1  # the restart: this is the file the mending is for
    episodes = compare.load_run(run_dir)
    assert episodes["reward"].tolist() == raw["r"].tolist()
    assert episodes["timesteps"].tolist() == raw["l"].cumsum().tolist()
    assert episodes["walltime_h"].is_monotonic_increasing


# ---------------------------------------------------------------------- training segments of resumed runs
SI_RUNS = REPO / "results" / "logs" / "space_invaders" / "zoo"


@pytest.mark.parametrize("algo, seed", [("ppo", 1), ("ppo", 2), ("ppo", 3), ("ppog", 1), ("ppog", 2), ("ppog", 3)])
def test_the_segments_of_the_committed_space_invaders_runs_match_their_study_records(algo, seed):
    """Each committed ALE study run's segments, read from its progress.csv and resumes.csv, against what the study
    runner recorded independently in its study_run.yml: the steps each segment started at, each segment's machine
    and code, and the training time (the runner's wall clock; the segments' SB3 seconds are whole seconds and leave
    out the work thrown away at a resume, so they may only be a little shorter). Catches segments split at the wrong
    row (a restart missed or one made up), the seconds of one segment counted twice, or machines shifted by one."""
    record = yaml.safe_load((SI_RUNS / algo / f"seed_{seed}" / "ppog-SpaceInvaders-v5.study_run.yml").read_text())
    segments = compare.run_segments(SI_RUNS / algo / f"seed_{seed}" / record["run_dir"])
    started = [0, *record.get("resumed_at_steps", [])]
    assert segments["from_steps"].tolist() == started
    assert segments["to_steps"].tolist() == [*started[1:], 1_000_448]
    for recorded in record.get("segments", []):  # the first one is absent for runs started by an older runner
        (row,) = segments[segments["from_steps"] == recorded["from_step"]].itertuples()
        if row.segment > 1:  # the first segment's machine: run_start.yml, newer than these runs
            assert (row.machine, row.code) == (recorded["machine"], recorded["code"])
    assert 0.97 * record["wall_s"] <= segments["train_s"].sum() <= record["wall_s"]
    expected = (segments["to_steps"] - segments["from_steps"]) / segments["train_s"]
    assert segments["steps_per_s"].tolist() == pytest.approx(expected.tolist())


def test_segments_need_resumes_and_progress_to_agree(tmp_path):
    """progress.csv with a restart at step 300 (time_elapsed back to 0): two segments with resumes.csv's resume at
    300, one row per segment with its machine; a resumes.csv that says 200, or none, is refused by naming the run
    folder (catches a reader that silently trusts one file when two runs' files were mixed)."""
    run = tmp_path / "run_1"
    run.mkdir()
    pd.DataFrame(
        {"time/total_timesteps": [100, 200, 300, 400, 500], "time/time_elapsed": [1, 2, 3, 1, 4], "train/loss": 0.0}
    ).to_csv(run / "progress.csv", index=False)
    (run / "run_start.yml").write_text(yaml.safe_dump({"started": "t0", "machine": "first box", "code": "aaa"}))
    header = "resume,num_timesteps,train_seconds_before,resumed_at,machine,code\n"
    (run / "resumes.csv").write_text(header + "1,300,3.2,t1,second box,bbb\n")
    segments = compare.run_segments(run)
    assert segments[["segment", "from_steps", "to_steps", "train_s"]].values.tolist() == [[1, 0, 300, 3], [2, 300, 500, 4]]
    assert segments["machine"].tolist() == ["first box", "second box"] and segments["code"].tolist() == ["aaa", "bbb"]
    assert segments["steps_per_s"].tolist() == [100.0, 50.0]
    table = compare.segments_markdown(segments)
    assert "| run_1 | 2 | 300 to 500 |" in table and "| run_1 | all | 500 | 0.00 h (7 s) | 71 |" in table

    (run / "resumes.csv").write_text(header + "1,200,2.0,t1,second box,bbb\n")
    with pytest.raises(ValueError, match="run_1: resume 1 of resumes.csv starts at step 200"):
        compare.run_segments(run)
    (run / "resumes.csv").unlink()
    with pytest.raises(ValueError, match="run_1: progress.csv has 2 segment"):
        compare.run_segments(run)

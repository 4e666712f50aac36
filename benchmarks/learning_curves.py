"""Learning curves of PPOG and SB3 PPO, one run per call, written in rl-zoo's log layout.

    python benchmarks/learning_curves.py --algo ppog --env ppog/SpaceInvaders-v5 --seed 1 -n 250000 -f results/logs
    python benchmarks/learning_curves.py --algo ppo  --env ppog/SpaceInvaders-v5 --seed 1 -n 250000 -f results/logs
    python benchmarks/learning_curves.py --algo ppog --env CartPole-v1 --seed 0 -n 100000 -f results/logs
    ... --params precision:auto        # override a config value (YAML syntax)

Hyperparameters come from ``zoo_configs/ppog.yml`` / ``zoo_configs/ppo.yml`` (the section of the env id), so a run
here trains what ``ppog-zoo train`` trains. Atari ids ``ppog/<Game>-v5`` use the plugin's fast vectorized env
(``ppog_sb3.make_atari_vec_env``) for BOTH algorithms; SB3 PPO is the real ``stable_baselines3.PPO``.

Each run writes ``<folder>/<algo>/<env>_<n>/`` (the zoo's naming: ``/`` in the id becomes ``-``) with
- ``0.monitor.csv``: SB3's Monitor CSV of every finished episode (for Atari: full-game score and length, all lives,
  unclipped rewards, from the env's ``info["episode"]``);
- ``progress.csv``: SB3's logger output per update (rollout/ep_rew_mean, train/clip_fraction, train/approx_kl, ...);
- ``config.yml``: the hyperparameters used and the command line; ``args.yml``: algo, env, seed, budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import ResultsWriter
from stable_baselines3.common.utils import LinearSchedule

import ppog_sb3
from ppog_sb3 import PPOG

ROOT = Path(__file__).resolve().parent.parent
ALGOS = {"ppog": PPOG, "ppo": PPO}
NOT_MODEL_KWARGS = {"n_envs", "n_timesteps", "policy", "frame_stack", "normalize", "env_wrapper", "env_kwargs", "callback"}


class EpisodeWriter(BaseCallback):
    """Appends every ``info["episode"]`` the env reports to a Monitor-format CSV (what the zoo's plots read)."""

    def __init__(self, path: Path):
        super().__init__()
        self.writer = ResultsWriter(str(path), header={"t_start": time.time(), "env_id": "vectorized"})

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            episode = info.get("episode")
            if episode is not None:
                self.writer.write_row({"r": round(float(episode["r"]), 6), "l": int(episode["l"]), "t": episode["t"]})
        return True

    def _on_training_end(self) -> None:
        self.writer.close()


def load_hyperparams(algo: str, env_id: str) -> dict:
    with open(ROOT / "zoo_configs" / f"{algo}.yml") as handle:
        config = yaml.safe_load(handle)
    if env_id not in config:
        raise SystemExit(f"error: zoo_configs/{algo}.yml has no section for {env_id!r}")
    return dict(config[env_id])


def to_model_kwargs(hyperparams: dict) -> dict:
    kwargs = {k: v for k, v in hyperparams.items() if k not in NOT_MODEL_KWARGS}
    for key in ("learning_rate", "clip_range"):  # the zoo turns these strings into schedules; PPOG parses others itself
        value = kwargs.get(key)
        if isinstance(value, str) and value.startswith("lin_"):
            kwargs[key] = LinearSchedule(float(value[4:]), 0.0, 1.0)
    if isinstance(kwargs.get("policy_kwargs"), str):
        kwargs["policy_kwargs"] = eval(kwargs["policy_kwargs"])  # the zoo's convention for policy_kwargs strings
    return kwargs


def next_run_folder(folder: Path, algo: str, env_id: str) -> Path:
    base = folder / algo
    name = env_id.replace("/", "-")
    existing = [int(p.name.rsplit("_", 1)[1]) for p in base.glob(f"{name}_*") if p.name.rsplit("_", 1)[1].isdigit()]
    run = base / f"{name}_{max(existing, default=0) + 1}"
    run.mkdir(parents=True)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", choices=sorted(ALGOS), required=True)
    parser.add_argument("--env", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("-n", "--n-timesteps", type=int, required=True)
    parser.add_argument("-f", "--folder", type=Path, default=Path("results/logs"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--params", nargs="*", default=[], metavar="KEY:VALUE", help="override config values (YAML values)")
    args = parser.parse_args()

    hyperparams = load_hyperparams(args.algo, args.env)
    for item in args.params:
        key, _, value = item.partition(":")
        hyperparams[key] = yaml.safe_load(value)
    n_envs = int(hyperparams.get("n_envs", 1))
    if args.env.startswith("ppog/"):
        game = args.env.split("/", 1)[1].rsplit("-v", 1)[0]
        env = ppog_sb3.make_atari_vec_env(game, n_envs=n_envs, seed=args.seed)
    else:
        env = make_vec_env(args.env, n_envs=n_envs, seed=args.seed)
    model_kwargs = to_model_kwargs(hyperparams)
    run = next_run_folder(args.folder, args.algo, args.env)
    with open(run / "config.yml", "w") as handle:
        yaml.safe_dump({"command": " ".join(["python", *sys.argv]), "hyperparams": hyperparams}, handle)
    with open(run / "args.yml", "w") as handle:  # the zoo's name for the run's arguments (seed: read by compare)
        yaml.safe_dump({"algo": args.algo, "env": args.env, "seed": args.seed, "n_timesteps": args.n_timesteps}, handle)
    model = ALGOS[args.algo](hyperparams["policy"], env, seed=args.seed, device=args.device, verbose=0, **model_kwargs)
    model.set_logger(configure(str(run), ["csv"]))
    start = time.time()
    model.learn(args.n_timesteps, callback=EpisodeWriter(run / "0.monitor.csv"))
    summary = {"run": str(run), "steps": model.num_timesteps, "seconds": round(time.time() - start, 1)}
    print(json.dumps(summary), flush=True)
    env.close()


if __name__ == "__main__":
    main()

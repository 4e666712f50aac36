"""Learning checks of the PPOG family at full budget, each next to its sb3-contrib parent (same seeds, same settings).

    python benchmarks/family_learning.py lstm --seeds 0 1          # RecurrentPPO and RecurrentPPOG, CartPoleNoVel-v1
    python benchmarks/family_learning.py mask --seeds 0 1 2        # MaskablePPO and MaskablePPOG, InvalidActionEnvDiscrete
    python benchmarks/family_learning.py lstm --algos RecurrentPPOG --steps 20000

- ``lstm``: rl-baselines3-zoo's ``ppo_lstm.yml`` settings for ``CartPoleNoVel-v1`` (:data:`ZOO_CARTPOLE_NOVEL`, checked
  against the zoo's file by ``tests/test_recurrent.py``): VecNormalize, 8 envs, 1e5 steps. The env is the zoo's own id
  (``import rl_zoo3.import_envs`` registers it: CartPole-v1 with the velocities masked, 500-step limit).
- ``mask``: ``InvalidActionEnvDiscrete(dim=70, n_invalid_actions=55)`` as sb3-contrib's ``test_identity``, default
  ``MaskablePPO`` settings at 8,000 steps (``--steps``); the action masks of every collected step are checked against
  the taken actions (``masked actions taken`` must be 0).

Each run prints one JSON line (algorithm, seed, steps, the evaluations during training, the final mean reward of a
20-episode deterministic evaluation, wall time); the last lines are a table. One torch thread per run (``--jobs``
runs in parallel processes).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

#: rl-zoo 2.9 ``hyperparams/ppo_lstm.yml``, section ``CartPoleNoVel-v1`` (``normalize: True`` is the VecNormalize below).
ZOO_CARTPOLE_NOVEL: dict[str, Any] = dict(
    n_envs=8,
    n_timesteps=100_000,
    policy="MlpLstmPolicy",
    n_steps=32,
    batch_size=256,
    gae_lambda=0.8,
    gamma=0.98,
    n_epochs=20,
    ent_coef=0.0,
    learning_rate="lin_0.001",
    clip_range="lin_0.2",
    policy_kwargs="dict(ortho_init=False, activation_fn=nn.ReLU, lstm_hidden_size=64, enable_critic_lstm=True, "
    "net_arch=dict(pi=[64], vf=[64]))",
)

ALGOS = {"lstm": ("RecurrentPPO", "RecurrentPPOG"), "mask": ("MaskablePPO", "MaskablePPOG")}


def _algo_class(name: str) -> type:
    import sb3_contrib

    import ppog_sb3

    return getattr(ppog_sb3 if name.endswith("PPOG") else sb3_contrib, name)


def zoo_kwargs(settings: dict[str, Any]) -> dict[str, Any]:
    """The model's keyword arguments from a zoo section, converted as the zoo converts them (schedules, policy_kwargs)."""
    from stable_baselines3.common.utils import LinearSchedule
    from torch import nn

    kwargs = {k: v for k, v in settings.items() if k not in ("n_envs", "n_timesteps", "normalize")}
    for key in ("learning_rate", "clip_range"):
        if isinstance(kwargs[key], str):
            kwargs[key] = LinearSchedule(float(kwargs[key].removeprefix("lin_")), 0.0, 1.0)
    kwargs["policy_kwargs"] = eval(kwargs["policy_kwargs"], {"nn": nn})  # the zoo evals this string the same way
    return kwargs


def run_lstm(algo: str, seed: int, steps: int) -> dict[str, Any]:
    import gymnasium as gym
    import rl_zoo3.import_envs  # noqa: F401  (registers CartPoleNoVel-v1)
    from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecNormalize, sync_envs_normalization

    def make(n_envs: int, env_seed: int, training: bool) -> VecNormalize:
        venv = make_vec_env(lambda: gym.make("CartPoleNoVel-v1"), n_envs=n_envs, seed=env_seed)
        return VecNormalize(venv, training=training, norm_reward=training)

    env = make(ZOO_CARTPOLE_NOVEL["n_envs"], seed, True)
    model = _algo_class(algo)(env=env, seed=seed, device="cpu", **zoo_kwargs(ZOO_CARTPOLE_NOVEL))
    curve: list[tuple[int, float]] = []

    class Record(BaseCallback):
        def _on_step(self) -> bool:
            curve.append((self.num_timesteps, round(float(self.parent.last_mean_reward), 1)))
            return True

    # the zoo's evaluation: every 10,000 steps (its eval_freq // n_envs), VecNormalize statistics synced
    evaluations = EvalCallback(
        make(1, 10_000 + seed, False), eval_freq=10_000 // env.num_envs, n_eval_episodes=10, callback_after_eval=Record()
    )
    start = time.perf_counter()
    model.learn(steps, callback=evaluations)
    wall = time.perf_counter() - start
    final_env = make(1, 20_000 + seed, False)
    sync_envs_normalization(env, final_env)
    mean, _ = evaluate_policy(model, final_env, n_eval_episodes=20, deterministic=True)
    return dict(algo=algo, seed=seed, steps=model.num_timesteps, curve=curve, final_mean=float(mean), wall_s=round(wall))


def run_mask(algo: str, seed: int, steps: int) -> dict[str, Any]:
    import numpy as np
    from sb3_contrib.common.envs import InvalidActionEnvDiscrete
    from sb3_contrib.common.maskable.evaluation import evaluate_policy
    from stable_baselines3.common.callbacks import BaseCallback

    class CountMaskedActions(BaseCallback):
        """Counts the rollout steps whose action the step's own mask forbids (in MaskablePPO's loop's locals)."""

        def __init__(self) -> None:
            super().__init__()
            self.masked = 0

        def _on_step(self) -> bool:
            masks, actions = self.locals["action_masks"], self.locals["actions"]
            self.masked += int((~np.asarray(masks, dtype=bool)[np.arange(len(actions)), actions.reshape(-1)]).sum())
            return True

    env = InvalidActionEnvDiscrete(dim=70, n_invalid_actions=55)
    model = _algo_class(algo)("MlpPolicy", env, gamma=0.4, seed=seed, device="cpu")  # sb3-contrib's test_identity
    counter = CountMaskedActions()
    start = time.perf_counter()
    model.learn(steps, callback=counter)
    wall = time.perf_counter() - start
    mean, _ = evaluate_policy(model, InvalidActionEnvDiscrete(dim=70, n_invalid_actions=55), n_eval_episodes=20, warn=False)
    return dict(
        algo=algo,
        seed=seed,
        steps=model.num_timesteps,
        masked_actions_taken=counter.masked,
        final_mean=float(mean),
        wall_s=round(wall),
    )


def _run(task: str, algo: str, seed: int, steps: int) -> dict[str, Any]:
    import torch as th

    th.set_num_threads(1)
    result = (run_lstm if task == "lstm" else run_mask)(algo, seed, steps)
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=sorted(ALGOS))
    parser.add_argument("--algos", nargs="+", help="default: the parent and its PPOG")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--steps", type=int, help="default: the zoo's 1e5 (lstm), 8000 (mask)")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    algos = args.algos or ALGOS[args.task]
    steps = args.steps or (ZOO_CARTPOLE_NOVEL["n_timesteps"] if args.task == "lstm" else 8000)
    runs = [(args.task, algo, seed, steps) for seed in args.seeds for algo in algos]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(_run, *zip(*runs)))
    print(f"{'algorithm':<15} {'seed':>4} {'steps':>7} {'final mean':>10} {'wall s':>7}")
    for r in results:
        print(f"{r['algo']:<15} {r['seed']:>4} {r['steps']:>7} {r['final_mean']:>10.1f} {r['wall_s']:>7}")


if __name__ == "__main__":
    main()

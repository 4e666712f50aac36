"""Tests of the gymnasium plugin (ppog_sb3.envs) on the real ALE (ale-py 0.12.1), no mocks.

The expensive objects (a few thousand Space Invaders steps) are computed once per module and shared.
"""

from __future__ import annotations

import warnings

import ale_py
import gymnasium as gym
import numpy as np
import pytest
from ale_py.vector_env import AtariVectorEnv
from stable_baselines3.common.atari_wrappers import AtariWrapper
from stable_baselines3.common.env_util import make_atari_env
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack, VecMonitor, VecTransposeImage

from ppog_sb3.envs import AtariVecEnv, PreprocessedAtariEnv, list_games, make_atari_vec_env, register_envs, resolve_game

gym.register_envs(ale_py)
register_envs()

SI = "ppog/SpaceInvaders-v5"
SI_ACTIONS = ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]


def scripted_actions(n_steps: int, n_envs: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, len(SI_ACTIONS), size=(n_steps, n_envs))


# ---------------------------------------------------------------------------------------------------------- registration
def test_register_envs_is_idempotent_and_registers_every_game():
    ids = register_envs()
    assert ids[0] == SI
    assert register_envs() == ids
    assert len(ids) == len(list_games()) > 100
    assert "ppog/Breakout-v5" in ids and "ppog/Pong-v5" in ids
    spec = gym.spec(SI)
    assert spec.kwargs == {"game": "space_invaders"}
    assert spec.entry_point == "ppog_sb3.envs.atari_env:PreprocessedAtariEnv"
    assert spec.vector_entry_point == "ppog_sb3.envs.atari_vec_env:make_vector_env"
    # rl-zoo's ExperimentManager.is_atari() looks for "AtariEnv" in the entry point
    assert "AtariEnv" in str(spec.entry_point)


def test_gym_make_single_env():
    env = gym.make(SI)
    assert env.observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert env.action_space == gym.spaces.Discrete(6)
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space
    assert (obs[:3] == 0).all() and obs[3].any()  # zero padded like VecFrameStack
    obs, reward, terminated, truncated, info = env.step(1)
    assert obs.shape == (4, 84, 84) and reward in (0.0, 1.0) and "raw_reward" in info and info["lives"] == 3
    assert env.unwrapped.get_action_meanings() == SI_ACTIONS
    env.close()
    env = gym.make(SI, render_mode="rgb_array")
    env.reset(seed=0)
    assert env.render().shape == (210, 160, 3)  # full-resolution ALE frame (the vector path has only the agent view)
    env.close()


def test_gym_make_vec_sync_mode_gives_a_gymnasium_vector_env_of_single_envs():
    envs = gym.make_vec(SI, num_envs=2, vectorization_mode="sync")
    assert isinstance(envs, gym.vector.SyncVectorEnv)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, 4, 84, 84)
    envs.close()


def test_gym_make_vec_uses_the_fast_path():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. gymnasium's missing-autoreset-metadata warning
        venv = gym.make_vec(SI, num_envs=2, seed=3, max_game_steps=1000)
    assert isinstance(venv, AtariVecEnv)
    assert venv.num_envs == 2 and venv.get_attr("max_episode_steps") == [1000, 1000]
    assert venv.spec.id == SI
    obs = venv.reset()
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    venv.close()


def test_envs_package_is_a_leaf():
    """ppog_sb3.envs imports nothing else from ppog_sb3 (dependency direction: envs is a leaf)."""
    import ast
    import pathlib

    import ppog_sb3.envs

    for path in pathlib.Path(ppog_sb3.envs.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name == "ppog_sb3" or name.startswith("ppog_sb3."):
                    assert name.startswith("ppog_sb3.envs"), f"{path.name} imports {name}"


@pytest.mark.parametrize(
    "name", ["SpaceInvaders", "space_invaders", "spaceinvaders", "ALE/SpaceInvaders-v5", "SpaceInvadersNoFrameskip-v4", SI]
)
def test_resolve_game_spellings(name):
    assert resolve_game(name) == "space_invaders"


# ----------------------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        (dict(game="SpaceInvader"), ["game='SpaceInvader'", "SpaceInvaders", "list_games"]),
        (dict(game="NotAGame"), ["game='NotAGame'", "list_games"]),
        (dict(game="warlords"), ["game='warlords'", "multi-player"]),
        (dict(n_envs=0), ["n_envs=0", "int >= 1"]),
        (dict(frame_skip=0), ["frame_skip=0", "int >= 1"]),
        (dict(frame_stack=2.5), ["frame_stack=2.5", "int >= 1"]),
        (dict(noop_max=-1), ["noop_max=-1", "int >= 0"]),
        (dict(max_episode_steps=0), ["max_episode_steps=0", "or None"]),
        (dict(seed=-1), ["seed=-1", "int >= 0"]),
        (dict(num_threads=0), ["num_threads=0", "or None"]),
        (dict(clip_reward="yes"), ["clip_reward='yes'", "True or False"]),
        (dict(repeat_action_probability=1.5), ["repeat_action_probability=1.5", "[0, 1]"]),
        (
            dict(repeat_action_probability=0.25, action_repeat_probability=0.0),
            ["repeat_action_probability=0.25", "action_repeat_probability=0.0", "same value"],
        ),
        (dict(frame_stack=16, screen_size=8), ["frame_stack=16", "screen_size=8", "frame_stack <= screen_size"]),
        (dict(render_mode="human"), ["render_mode='human'", "'rgb_array'", "AtariVectorEnv"]),
    ],
)
def test_bad_options_raise_value_error(kwargs, fragments):
    kwargs = {"game": "SpaceInvaders", "n_envs": 1, **kwargs}
    with pytest.raises(ValueError) as excinfo:
        make_atari_vec_env(**kwargs)
    for fragment in fragments:
        assert fragment in str(excinfo.value)


def test_bad_options_single_env():
    with pytest.raises(ValueError, match="frame_skip=0"):
        gym.make(SI, frame_skip=0)
    with pytest.raises(ValueError, match="game='Pongg'.*Pong"):
        PreprocessedAtariEnv("Pongg")


# -------------------------------------------------------------------------------------------------- the VecEnv contract
@pytest.fixture(scope="module")
def shared_venv():
    env = make_atari_vec_env("SpaceInvaders", n_envs=3, seed=0, render_mode="rgb_array")
    yield env
    env.close()


@pytest.fixture
def venv(shared_venv):
    """The module's env, with no step pending and not yet reset by this test (building one costs ~1 s: ROM loads)."""
    if shared_venv._actions is not None:
        shared_venv.step_wait()
    shared_venv._obs = None
    return shared_venv


def test_spaces_reset_and_step_shapes(venv):
    assert venv.observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert venv.action_space == gym.spaces.Discrete(6)
    assert is_image_space(venv.observation_space) and is_image_space_channels_first(venv.observation_space)
    obs = venv.reset()
    assert obs.shape == (3, 4, 84, 84) and obs.dtype == np.uint8
    assert all(o in venv.observation_space for o in obs)
    assert (obs[:, :3] == 0).all() and all(o[3].any() for o in obs)
    assert venv.reset_infos == [{"lives": 3}] * 3
    venv.step_async(np.array([1, 2, 3]))
    obs, rewards, dones, infos = venv.step_wait()
    assert obs.shape == (3, 4, 84, 84) and obs.dtype == np.uint8
    assert rewards.shape == (3,) and rewards.dtype == np.float32
    assert dones.shape == (3,) and dones.dtype == bool
    assert isinstance(infos, list) and len(infos) == 3
    assert all(set(info) == {"lives", "raw_reward"} for info in infos)
    # lists and float actions holding integers are accepted, as DummyVecEnv does
    venv.step([0, 1, 2])
    venv.step(np.array([0.0, 1.0, 2.0]))


def test_step_async_wait_contract(venv):
    with pytest.raises(RuntimeError, match="reset"):
        venv.step(np.zeros(3, dtype=int))
    venv.reset()
    with pytest.raises(RuntimeError, match="without step_async"):
        venv.step_wait()
    venv.step_async(np.zeros(3, dtype=int))
    with pytest.raises(RuntimeError, match="twice"):
        venv.step_async(np.zeros(3, dtype=int))
    obs = venv.reset()  # a pending step is collected, not leaked into the next step_wait
    assert (obs[:, :3] == 0).all()
    for bad in (np.array([0, 1, 6]), np.array([-1, 0, 0]), np.zeros(2, dtype=int), np.array([0.5, 0, 0])):
        with pytest.raises(ValueError, match="actions="):
            venv.step_async(bad)
    venv.step(np.zeros(3, dtype=int))


def test_attributes_and_methods(venv):
    venv.reset()
    assert venv.get_attr("render_mode") == ["rgb_array"] * 3
    assert venv.get_attr("game", indices=[1]) == ["space_invaders"]
    assert venv.get_attr("lives", indices=0) == [3]
    assert venv.get_attr("frame_skip") == [4] * 3
    assert venv.has_attr("noop_max") and not venv.has_attr("ale")
    with pytest.raises(AttributeError, match="available"):
        venv.get_attr("nope")
    with pytest.raises(AttributeError, match="make_atari_vec_env"):
        venv.set_attr("noop_max", 0)
    assert venv.env_method("get_action_meanings") == [SI_ACTIONS] * 3
    assert venv.env_method("get_action_meanings") == [gym.make("ALE/SpaceInvaders-v5").unwrapped.get_action_meanings()] * 3
    assert venv.env_method("get_wrapper_attr", "screen_size", indices=[2]) == [84]
    with pytest.raises(AttributeError, match="supported methods"):
        venv.env_method("render")
    assert venv.env_is_wrapped(Monitor) == [True] * 3
    assert venv.env_is_wrapped(AtariWrapper) == [False] * 3
    assert venv.single_observation_space is venv.observation_space


def test_render_and_get_images(venv):
    with pytest.raises(RuntimeError, match="reset"):
        venv.get_images()
    obs = venv.reset()
    images = venv.get_images()
    assert len(images) == 3
    for image, o in zip(images, obs, strict=True):
        assert image.shape == (84, 84, 3) and image.dtype == np.uint8
        np.testing.assert_array_equal(image[:, :, 0], o[-1])
    big = venv.render()
    assert big.shape == (168, 168, 3)  # 3 images tiled on a 2x2 grid
    with pytest.raises(ValueError, match="AtariVectorEnv"):
        venv.render(mode="ansi")
    plain = make_atari_vec_env("SpaceInvaders", n_envs=1)
    plain.reset()
    with pytest.warns(UserWarning, match="render_mode"):
        assert plain.render() is None
    plain.close()


def test_close():
    venv = make_atari_vec_env("SpaceInvaders", n_envs=1)
    venv.reset()
    venv.step_async(np.zeros(1, dtype=int))
    venv.close()  # with a step pending
    venv.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        venv.reset()
    with pytest.raises(RuntimeError, match="closed"):
        venv.step(np.zeros(1, dtype=int))


def test_vec_monitor_warns_because_episode_info_is_already_there():
    env = make_atari_vec_env("SpaceInvaders", n_envs=1)
    with pytest.warns(UserWarning, match="Monitor"):
        VecMonitor(env)
    env.close()


# ------------------------------------------------------------------------------------------- episodes: the core semantics
N_ENVS, SEED, N_STEPS = 2, 7, 1300  # 3 games per env by step 1215


@pytest.fixture(scope="module")
def rollout():
    """Scripted random actions in the adapter (SameStep autoreset, life losses found in Python) and, independently, in
    a bare C++ env with NextStep autoreset and ale-py's own life-loss flag: the first game of each env must agree."""
    actions = scripted_actions(N_STEPS, N_ENVS, seed=SEED)
    venv = make_atari_vec_env("SpaceInvaders", n_envs=N_ENVS, seed=SEED)
    first_obs = venv.reset()
    steps = []
    for a in actions:
        obs, rewards, dones, infos = venv.step(a)
        steps.append((obs.copy(), rewards.copy(), dones.copy(), infos))
    venv.close()

    bare = AtariVectorEnv(
        "space_invaders", N_ENVS, autoreset_mode="NextStep", reward_clipping=False, life_loss_info=True
    )  # all other defaults = the adapter's
    bare_obs, _ = bare.reset(seed=np.arange(SEED, SEED + N_ENVS))
    bare_steps = []
    for a in actions[:600]:  # first games end at steps 362 and 494
        obs, rewards, terminated, truncated, info = bare.step(a)
        bare_steps.append((obs.copy(), rewards.copy(), terminated.copy(), info["lives"].copy()))
    return actions, first_obs, steps, bare_obs, bare_steps


def _games(steps, i):
    """Split env i's steps into games: list of (start, end) step indices, end inclusive."""
    games, start = [], 0
    for t, (_, _, _, infos) in enumerate(steps):
        if "episode" in infos[i]:
            games.append((start, t))
            start = t + 1
    return games


def test_episode_info_is_the_real_game_score(rollout):
    _, _, steps, _, _ = rollout
    for i in range(N_ENVS):
        games = _games(steps, i)
        assert len(games) >= 3, "the scripted sequence should finish a few games"
        for start, end in games:
            episode = steps[end][3][i]["episode"]
            raw = [steps[t][3][i]["raw_reward"] for t in range(start, end + 1)]
            clipped = [steps[t][1][i] for t in range(start, end + 1)]
            assert episode["l"] == end - start + 1
            assert episode["r"] == pytest.approx(sum(raw))
            assert episode["r"] > 0 and episode["t"] >= 0
            np.testing.assert_array_equal(clipped, np.sign(raw))  # training reward: clipped
            assert max(raw) > 1  # Space Invaders scores 5..30 per invader: the episode sum is unclipped


def test_dones_life_losses_and_game_overs(rollout):
    _, first_obs, steps, _, _ = rollout
    for i in range(N_ENVS):
        lives, prev_obs, n_life_losses = 3, first_obs[i], 0
        for obs, _, dones, infos in steps:
            info = infos[i]
            if not dones[i]:
                assert "terminal_observation" not in info and "episode" not in info
                assert info["lives"] == lives
                np.testing.assert_array_equal(obs[i][:-1], prev_obs[1:])  # the stack shifts by one frame
            elif "episode" in info:  # game over: the C++ env reset the game in this step
                assert info["TimeLimit.truncated"] is False
                assert info["lives"] == 3 and lives == 1
                assert info["terminal_observation"].shape == (4, 84, 84) and info["terminal_observation"][-1].any()
                np.testing.assert_array_equal(info["terminal_observation"][:-1], prev_obs[1:])  # from C++ final_obs
                assert (obs[i][:3] == 0).all() and obs[i][3].any()  # first frame of the new game
                assert not np.array_equal(info["terminal_observation"][-1], obs[i][-1])
                assert n_life_losses == 2  # 3 lives: two life-loss dones, then the game-over done
                n_life_losses = 0
            else:  # life loss: done for training, but the game goes on from the same frame
                assert info["lives"] == lives - 1 > 0
                assert info["TimeLimit.truncated"] is False
                np.testing.assert_array_equal(info["terminal_observation"][-1], obs[i][-1])
                np.testing.assert_array_equal(info["terminal_observation"][:-1], prev_obs[1:])
                assert (obs[i][:3] == 0).all()  # stack cleared as VecFrameStack does on every done
                n_life_losses += 1
                assert n_life_losses <= 2
            lives, prev_obs = info["lives"], obs[i]


def test_zero_padding_after_life_loss_matches_vec_frame_stack(rollout):
    _, _, steps, _, _ = rollout
    checked = 0
    for i in range(N_ENVS):
        for t, (_, _, dones, infos) in enumerate(steps[:-3]):
            if dones[i] and "episode" not in infos[i]:
                boundary = steps[t][0][i][-1]
                for k in (1, 2, 3):
                    obs = steps[t + k][0][i]
                    assert (obs[: 3 - k] == 0).all()
                    np.testing.assert_array_equal(obs[3 - k], boundary)
                checked += 1
    assert checked >= 4


def test_first_game_matches_bare_cpp_env_with_nextstep_autoreset(rollout):
    actions, first_obs, steps, bare_obs, bare_steps = rollout
    np.testing.assert_array_equal(first_obs, bare_obs)
    for i in range(N_ENVS):
        start, end = _games(steps, i)[0]
        assert end < len(bare_steps), "first game longer than the bare run"
        bare_rewards = [bare_steps[t][1][i] for t in range(end + 1)]
        assert steps[end][3][i]["episode"]["r"] == pytest.approx(sum(bare_rewards))  # incl. the game-over step
        bare_life_loss_steps = [t for t in range(end) if bare_steps[t][2][i]]  # life_loss_info=True flags them
        adapter_life_loss_steps = [t for t in range(end) if steps[t][2][i]]
        assert bare_life_loss_steps == adapter_life_loss_steps
        assert bare_steps[end][2][i]  # game over
        for t in range(end):  # newest frames identical (older ones differ only by the life-loss zero padding)
            np.testing.assert_array_equal(steps[t][0][i][-1], bare_steps[t][0][i][-1])
        np.testing.assert_array_equal(steps[end][3][i]["terminal_observation"][-1], bare_steps[end][0][i][-1])


def test_time_limit_truncation():
    venv = make_atari_vec_env("SpaceInvaders", n_envs=2, seed=0, max_episode_steps=50)
    venv.reset()
    for t in range(1, 101):
        obs, _, dones, infos = venv.step(np.zeros(2, dtype=int))  # NOOP: no life is lost in 100 steps
        if t % 50:
            assert not dones.any()
            continue
        assert dones.all()
        for i in range(2):
            assert infos[i]["TimeLimit.truncated"] is True
            assert infos[i]["episode"]["l"] == 50 and infos[i]["episode"]["r"] == 0.0
            assert infos[i]["terminal_observation"].any(axis=(1, 2)).all()
            assert (obs[i][:3] == 0).all()
    venv.close()


def test_no_life_loss_dones_when_disabled():
    venv = make_atari_vec_env("SpaceInvaders", n_envs=2, seed=SEED, terminal_on_life_loss=False, clip_reward=False)
    venv.reset()
    for a in scripted_actions(600, 2, seed=SEED):
        _, rewards, dones, infos = venv.step(a)
        for i in np.flatnonzero(dones):
            assert "episode" in infos[i]
        np.testing.assert_array_equal(rewards, [info["raw_reward"] for info in infos])
    venv.close()


# ------------------------------------------------------------------------------------------------------------- seeding
def _trajectory(venv, n_steps=40):
    out = [venv.reset()]
    for a in scripted_actions(n_steps, 1).repeat(venv.num_envs, axis=1):  # the same actions in every env
        out.append(venv.step(a)[0])
    return np.stack(out, axis=1)  # (n_envs, n_steps + 1, 4, 84, 84)


def test_seeding_is_reproducible_and_per_env():
    venv = make_atari_vec_env("SpaceInvaders", n_envs=3)
    assert venv.seed(123) == [123, 124, 125]
    a = _trajectory(venv)
    venv.seed(123)
    np.testing.assert_array_equal(_trajectory(venv), a)  # same seed, same observations
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[1], a[2])  # different seeds, different ones
    venv.close()
    # seed(s) gives env i the seed s + i, so env 1 of seed 123 is env 0 of seed 124, in another instance too; the
    # factory's seed= argument is the same as seed() before the first reset.
    other = make_atari_vec_env("SpaceInvaders", n_envs=2, seed=124)
    np.testing.assert_array_equal(_trajectory(other), a[1:])
    other.close()


# ---------------------------------------------------------------------------------------------- against SB3's pipeline
def _sb3_atari(n_steps, actions, wrapper_kwargs=None, seed=0):
    venv = VecFrameStack(make_atari_env("SpaceInvadersNoFrameskip-v4", n_envs=1, seed=seed, wrapper_kwargs=wrapper_kwargs), 4)
    out = [(venv.reset(), None, None)]
    for a in actions[:n_steps]:
        obs, rewards, dones, _ = venv.step(a)
        out.append((obs, rewards, dones))
    venv.close()
    return out


def test_frames_match_sb3_pipeline():
    """make_atari_env(noop_max=0) + VecFrameStack vs the fast path with noop_max=0, use_fire_reset=False, and the
    FIRE, RIGHT steps SB3's FireResetEnv plays at reset done by hand: same emulator states, so the frames can be
    compared pixel by pixel up to the first life loss (where SB3 plays hidden no-op/FIRE steps).
    Measured on ale-py 0.12.1: identical frames (0 grey levels of difference) and identical rewards."""
    actions = scripted_actions(400, 1, seed=0)
    sb3 = _sb3_atari(400, actions, wrapper_kwargs=dict(noop_max=0))
    venv = make_atari_vec_env("SpaceInvaders", n_envs=1, seed=0, noop_max=0, use_fire_reset=False, clip_reward=False)
    venv.reset()
    venv.step(np.array([1]))
    obs, *_ = venv.step(np.array([2]))
    compared = 0
    for t, (sb3_obs, sb3_rewards, sb3_dones) in enumerate(sb3):
        if t > 0:
            obs, rewards, dones, infos = venv.step(actions[t - 1])
            assert np.sign(rewards[0]) == sb3_rewards[0]
            assert dones[0] == sb3_dones[0]
            if dones[0]:
                break
        np.testing.assert_array_equal(obs[0][-1], sb3_obs[0, :, :, -1])
        compared += 1
    assert compared > 100
    venv.close()


def test_single_env_is_exactly_sb3_make_atari_env():
    """The gym.make() path uses SB3's own wrappers: same seed, same actions -> the same observations (transposed to
    channel-first), rewards and dones as make_atari_env + VecFrameStack, across life losses."""
    actions = scripted_actions(300, 1, seed=1)
    sb3 = _sb3_atari(300, actions, seed=5)
    ours = DummyVecEnv([lambda: gym.make(SI)])
    ours.seed(5)
    obs = ours.reset()
    n_dones = 0
    for t, (sb3_obs, sb3_rewards, sb3_dones) in enumerate(sb3):
        if t > 0:
            obs, rewards, dones, _ = ours.step(actions[t - 1])
            np.testing.assert_array_equal(rewards, sb3_rewards)
            np.testing.assert_array_equal(dones, sb3_dones)
            n_dones += int(dones[0])
        np.testing.assert_array_equal(obs, sb3_obs.transpose(0, 3, 1, 2))
    assert n_dones >= 1
    ours.close()


def test_single_env_episode_info_is_game_level():
    env = gym.make(SI, noop_max=0, use_fire_reset=False, max_game_steps=400)
    env.reset(seed=0)
    steps, raw_total, life_dones = 0, 0.0, 0
    rng = np.random.default_rng(2)
    for _ in range(400):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(0, 6)))
        steps += 1
        raw_total += info["raw_reward"]
        if "episode" in info:
            break
        if terminated or truncated:
            life_dones += 1
            env.reset()
    assert info["episode"]["l"] == steps and info["episode"]["r"] == pytest.approx(raw_total)
    assert "episode" in info and (life_dones >= 1 or truncated)
    if truncated:  # game-level limit: 400 agent steps = 1600 frames, incl. the hidden no-op step after each life loss
        assert steps + life_dones == 400
    env.close()


# ------------------------------------------------------------------------------------------------------------- training
@pytest.fixture
def one_torch_thread():
    """PyTorch's intra-op threads and the C++ env's worker threads compete for the cores: on a loaded 2-core machine
    two torch threads made this PPO run ~8x slower than one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _small_ppo(venv):
    from stable_baselines3 import PPO

    return PPO(
        "CnnPolicy",
        venv,
        n_steps=32,
        batch_size=64,
        n_epochs=1,
        policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=32), net_arch=[]),
        seed=0,
        device="cpu",
    )


def test_ppo_runs_on_it_without_vec_transpose_image(one_torch_thread):
    from stable_baselines3.common.vec_env import is_vecenv_wrapped

    venv = make_atari_vec_env("SpaceInvaders", n_envs=4, seed=0, max_episode_steps=40)
    model = _small_ppo(venv)
    assert model.get_env() is venv
    assert not is_vecenv_wrapped(model.get_env(), VecTransposeImage)
    model.learn(256)
    assert model.num_timesteps == 256
    # the time-limited games (40 steps) reached SB3's ep_info_buffer, once per game
    assert [ep["l"] for ep in model.ep_info_buffer] == [40] * 4
    venv.close()


@pytest.mark.slow
def test_ppo_trains_a_few_thousand_steps_and_evaluates_game_scores(one_torch_thread):
    from stable_baselines3.common.evaluation import evaluate_policy

    venv = make_atari_vec_env("SpaceInvaders", n_envs=4, seed=0)
    model = _small_ppo(venv)
    model.learn(2560)
    assert model.num_timesteps == 2560
    # ep_info_buffer got game-level episodes: real scores (multiples of 5) over whole games (hundreds of steps)
    assert len(model.ep_info_buffer) >= 1
    for ep in model.ep_info_buffer:
        assert ep["r"] % 5 == 0 and ep["l"] > 100
    # env_is_wrapped(Monitor) is True, so evaluate_policy counts games (not lives) and reads the game scores
    rewards, lengths = evaluate_policy(model, venv, n_eval_episodes=4, deterministic=False, return_episode_rewards=True)
    assert len(rewards) == 4 and all(r % 5 == 0 for r in rewards) and min(lengths) > 100
    venv.close()

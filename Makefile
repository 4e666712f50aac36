# Two commands do everything on a fresh machine:  `make train`  and  `make test`.
# Both first set up a virtual environment, $(VENV) (default .venv/ in the checkout; `make test VENV=/some/dir` for
# another), created with `python3 -m venv` when it is missing: torch pinned and installed first (a bare `torch`
# requirement on a machine without it pulls a multi-GB CUDA build), then this package, editable, with its [dev] extra.
# .ci/run calls `make lint test VENV=<new temporary folder>`: CI sets up a new environment on every run.
VENV ?= .venv
BOOTSTRAP_PYTHON ?= python3
TORCH_VERSION ?= 2.13.0
TIMESTEPS ?= 10000000
LOGS ?= logs
PYTEST_ARGS ?=

PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.ppog-install.stamp

.PHONY: install train train-report test lint bench-memory study study-report study-si study-si-report

$(PYTHON):
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)

# The set-up command the README gives, step by step; pip check: no dependency conflict left behind
$(STAMP): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install -q "torch==$(TORCH_VERSION)"
	$(PYTHON) -m pip install -q -e ".[dev]"
	$(PYTHON) -m pip check
	touch $(STAMP)

install: $(STAMP)

# Main job: PPOG on Space Invaders through ppog-zoo: fast vectorized ALE path, the package's zoo_configs/ppog.yml
# (ppog-zoo's default config for --algo ppog), logs in $(LOGS)/ppog/. A progress bar with the time left (the zoo's -P;
# --verbose 0: SB3's table would scroll past every 1,024 steps, progress.csv in the run folder has its numbers) and a
# checkpoint every CHECKPOINT_FREQ agent steps (1% of the 10M-step run, ~3 minutes on a 2-core CPU): a run that is
# killed continues from its last checkpoint with `make train RESUME=1` (same other variables), in the same folder.
# Decision: resuming is asked for, not automatic: `make train` after a finished or abandoned run starts a new run
# (<game>_2, ...), as the zoo does, and never appends to an old one by surprise.
CHECKPOINT_FREQ ?= 100000
RESUME ?=
train: install
	$(VENV)/bin/ppog-zoo train --algo ppog --env ppog/SpaceInvaders-v5 -f $(LOGS) -n $(TIMESTEPS) --seed 0 \
		--checkpoint-freq $(CHECKPOINT_FREQ) -P --verbose 0$(if $(RESUME), --resume)

# The main job's report, from its run folder(s) in $(LOGS)/ppog/ (finished or not): learning curves against agent
# steps and against training hours, the final score (mean of the last 100 full games), and the machine time of each
# training segment (each process, from start or --resume to the end or a kill). The committed 10M-step run:
# `make train-report LOGS=results/logs/main_job TRAIN_REPORT=results/report_main_job`.
TRAIN_REPORT ?= $(LOGS)/report
train-report: install
	$(VENV)/bin/ppog-zoo compare -f $(LOGS) --env ppog/SpaceInvaders-v5 --algos ppog -o $(TRAIN_REPORT) \
		--x timesteps walltime

test: install
	$(PYTHON) -m pytest $(PYTEST_ARGS)

# ruff (lint + format: the package, tests, benchmarks and the notebooks' code cells) and mypy (configured in
# pyproject.toml: the ppog_sb3 package)
lint: install
	$(PYTHON) -m ruff check ppog_sb3 tests benchmarks notebooks
	$(PYTHON) -m ruff format --check ppog_sb3 tests benchmarks notebooks
	$(PYTHON) -m mypy

bench-memory: install
	$(PYTHON) benchmarks/buffer_memory.py

# The MinAtar PPOG-vs-PPO study (zoo_configs/minatar/study.yml; README "Does PPOG beat PPO?"): trains the runs not in
# results/logs/minatar yet (resumable: a rerun skips finished runs and continues interrupted ones from their
# checkpoints), then draws the report from all finished runs. The ALE Space Invaders study: `make study-si`.
STUDY ?= zoo_configs/minatar/study.yml
STUDY_LOGS ?= results/logs/minatar
STUDY_REPORT ?= results/report_minatar
STUDY_WORKERS ?= 2

study: install
	$(VENV)/bin/ppog-zoo study run $(STUDY) -f $(STUDY_LOGS) --workers $(STUDY_WORKERS) --nice 5

study-report: install
	$(VENV)/bin/ppog-zoo study report $(STUDY) -f $(STUDY_LOGS) -o $(STUDY_REPORT)

SI_STUDY = STUDY=zoo_configs/space_invaders/study.yml STUDY_LOGS=results/logs/space_invaders \
	STUDY_REPORT=results/report_space_invaders

study-si:
	$(MAKE) study $(SI_STUDY)

study-si-report:
	$(MAKE) study-report $(SI_STUDY)

# Tuned against tuned (issue 25; README "Hyperparameter search"): one Optuna search per arm and MinAtar game, `ppo`
# (SB3's PPO, the zoo's PPO sampler) and `ppog` (the same space plus PPOG's own keys, policy_loss pinned to ppog), each
# over its zoo-setting config (the MinAtarCNN body stays: sampled policy_kwargs update the config's). Each search has
# its folder $(TUNE_DIR)/<arm>_<Game>/: its SQLite study <arm>/optuna/<arm>_<Game>.db (the default storage of -f, so
# the sampler's seed is --seed plus the trials so far, the same for all four; an explicit --storage would mix in the
# process id), the zoo's reports, and tune.log (its output). Resumable: `make tune` again continues each study to
# TUNE_TRIALS trials in all (--max-total-trials; a trial a killed search left RUNNING is marked FAIL after the
# heartbeat's grace period, 2 minutes, and not counted). `make tune-configs` writes each search's best trial into
# zoo_configs/minatar/tuned_<arm>.yml. Dry run: make tune TUNE_DIR=/tmp/tune TUNE_TIMESTEPS=2048 TUNE_TRIALS=2 \
#   TUNE_FIXED="n_steps_pow:6 batch_size_pow:6 n_epochs:1 net_arch:tiny" TUNE_EVAL_EPISODES=2
# The settings, the same for every search:
#   -n TUNE_TIMESTEPS: agent steps per trial, the issue's minimum (300k);
#   --max-total-trials TUNE_TRIALS: trials per search in all, COMPLETE + PRUNED, the issue's minimum (48);
#   --sampler tpe --n-startup-trials 10: the zoo's multivariate TPE after 10 random trials (the zoo's default count);
#   --pruner median: the zoo's MedianPruner: nothing pruned in the first 10 trials, nor before the 2nd evaluation;
#   --n-evaluations 6: an evaluation every 50k steps, 6 points for the pruner; the objective is the last one (300k);
#   --eval-episodes 50 --n-eval-envs 5: the zoo's evaluation (deterministic: MinAtar ids are not Atari ids) over 50
#     games, 10 on each of 5 envs (batched forwards: 2x faster). At 300k steps a game's score has a std of 1.7
#     (Breakout) and 6.7 (SpaceInvaders) in the study's runs: the objective's standard error is 0.24 and 0.95, 5% and
#     6% of the score (20 games: 8% and 10%); a game is 60 to 120 steps, an evaluation ~6k, 5-10% of a trial;
#   --seed 0: one seed for all four (env streams, the sampler, torch's stream for the trials' networks);
#   --num-threads 1 and TUNE_WORKERS=2 searches at a time: one core per search on a 2-core machine;
#   nice -n 5: below interactive work, as `make study`.
TUNE_DIR ?= results/tuning
TUNE_GAMES ?= Breakout SpaceInvaders
TUNE_ARMS ?= ppo ppog
TUNE_TRIALS ?= 48
TUNE_TIMESTEPS ?= 300000
TUNE_EVAL_EPISODES ?= 50
TUNE_WORKERS ?= 2
TUNE_SEED ?= 0
TUNE_FIXED ?=
TUNED_CONFIGS ?= zoo_configs/minatar
# Game by game (both arms of a game run side by side: same load, and an interrupted `make tune` has whole games)
TUNE_SEARCHES = $(foreach game,$(TUNE_GAMES),$(foreach arm,$(TUNE_ARMS),tune-$(arm)-$(game)))
tune_arm = $(word 1,$(subst -, ,$1))
tune_game = $(word 2,$(subst -, ,$1))
tune_fixed = $(strip $(TUNE_FIXED) $(if $(filter ppog,$(call tune_arm,$1)),policy_loss:ppog))

.PHONY: tune tune-configs tune-report
tune: install
	$(MAKE) --no-print-directory -j $(TUNE_WORKERS) $(TUNE_SEARCHES)

# One search, tune-<arm>-<Game> (e.g. `make tune-ppog-Breakout`)
tune-%:
	@mkdir -p $(TUNE_DIR)/$(subst -,_,$*)
	@echo "search $*: output in $(TUNE_DIR)/$(subst -,_,$*)/tune.log"
	nice -n 5 $(VENV)/bin/ppog-zoo train --algo $(call tune_arm,$*) --env MinAtar/$(call tune_game,$*)-v1 \
		-conf zoo_configs/minatar/zoo_$(call tune_arm,$*).yml -f $(TUNE_DIR)/$(subst -,_,$*) \
		-optimize --study-name $(subst -,_,$*) --max-total-trials $(TUNE_TRIALS) -n $(TUNE_TIMESTEPS) \
		--sampler tpe --pruner median --n-startup-trials 10 --n-evaluations 6 \
		--eval-episodes $(TUNE_EVAL_EPISODES) --n-eval-envs 5 --seed $(TUNE_SEED) --num-threads 1 \
		$(if $(call tune_fixed,$*),--fixed-params $(call tune_fixed,$*)) >> $(TUNE_DIR)/$(subst -,_,$*)/tune.log 2>&1

# Each search's best COMPLETE trial as the game's section of $(TUNED_CONFIGS)/tuned_<arm>.yml (ppog-zoo best-config)
tune-configs: install
	$(foreach game,$(TUNE_GAMES),$(foreach arm,$(TUNE_ARMS),$(VENV)/bin/ppog-zoo best-config \
		--storage sqlite:///$(TUNE_DIR)/$(arm)_$(game)/$(arm)/optuna/$(arm)_$(game).db --study-name $(arm)_$(game) \
		--algo $(arm) --env MinAtar/$(game)-v1 -conf zoo_configs/minatar/zoo_$(arm).yml \
		-o $(TUNED_CONFIGS)/tuned_$(arm).yml &&)) true

# What the searches cost and found, from their databases alone (ppog-zoo tune-report): trials by state, machine hours
# (each trial's wall time on its one core; killed trials to their last heartbeat), best trials, best value so far
TUNE_REPORT ?= $(TUNE_DIR)/report
tune-report: install
	$(VENV)/bin/ppog-zoo tune-report $(TUNE_DIR) -o $(TUNE_REPORT)

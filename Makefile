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

.PHONY: install train test lint bench-memory study study-report study-si study-si-report

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

test: install
	$(PYTHON) -m pytest $(PYTEST_ARGS)

# ruff (lint + format) and mypy (configured in pyproject.toml: the ppog_sb3 package)
lint: install
	$(PYTHON) -m ruff check ppog_sb3 tests benchmarks
	$(PYTHON) -m ruff format --check ppog_sb3 tests benchmarks
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

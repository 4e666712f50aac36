# Two commands do everything on a fresh machine:  `make train`  and  `make test`.
# torch is pinned and installed first: a bare `torch` requirement on a machine without it pulls a multi-GB CUDA build.
PYTHON ?= python
TORCH_VERSION ?= 2.13.0
TIMESTEPS ?= 10000000
LOGS ?= logs
PYTEST_ARGS ?=

.PHONY: install train test lint bench-memory

.install.stamp: pyproject.toml
	$(PYTHON) -m pip install -q "torch==$(TORCH_VERSION)"
	$(PYTHON) -m pip install -q -e ".[dev]"
	touch .install.stamp

install: .install.stamp

# Main job: PPOG on Space Invaders through ppog-zoo: fast vectorized ALE path, zoo_configs/ppog.yml, logs in $(LOGS)/ppog/
train: install
	$(PYTHON) -m ppog_sb3.zoo train --algo ppog --env ppog/SpaceInvaders-v5 -conf zoo_configs/ppog.yml \
		-f $(LOGS) -n $(TIMESTEPS) --seed 0

test: install
	$(PYTHON) -m pytest $(PYTEST_ARGS)

# ruff (lint + format) and mypy (configured in pyproject.toml: the ppog_sb3 package)
lint: install
	$(PYTHON) -m ruff check ppog_sb3 tests benchmarks
	$(PYTHON) -m ruff format --check ppog_sb3 tests benchmarks
	$(PYTHON) -m mypy

bench-memory: install
	$(PYTHON) benchmarks/buffer_memory.py

"""The README's Python examples, executed as written, so that the README cannot rot.

Every fenced ``python`` block of README.md runs in a fresh interpreter that sees only what ``pip install .``
installs (tests/core_only.py), in a temporary folder. The one change made to the README's code is the step budget:
see :data:`STEP_BUDGET` and :func:`shrink`.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path

import pytest
from core_only import core_python
from helpers import readme_blocks, readme_python_blocks

REPO = Path(__file__).resolve().parents[1]

#: The only change to the README's code: ``.learn(N`` becomes ``.learn(STEP_BUDGET`` (one rollout of 8 envs x 128).
STEP_BUDGET = 1024


def python_blocks() -> list[str]:
    return readme_python_blocks(REPO / "README.md")


def shrink(block: str) -> str:
    """``block`` with the first argument of every ``.learn(...)`` call replaced by :data:`STEP_BUDGET`."""
    shrunk, count = re.subn(r"\.learn\(\s*[0-9_]+", f".learn({STEP_BUDGET}", block)
    assert count == block.count(".learn("), "a .learn( call whose first argument is not a number literal"
    return shrunk


def test_shrink_changes_only_the_budget():
    block = 'model.learn(1_000_000, progress_bar=True)\nPPOG("CnnPolicy", venv).learn(100_000)\n'
    assert shrink(block) == f'model.learn({STEP_BUDGET}, progress_bar=True)\nPPOG("CnnPolicy", venv).learn({STEP_BUDGET})\n'
    with pytest.raises(AssertionError, match="not a number literal"):
        shrink("model.learn(total)")


BLOCKS = python_blocks()


def test_readme_has_its_examples():
    assert len(BLOCKS) == 6 and "make_atari_env" in BLOCKS[0] and "COURSE_SETTINGS" in BLOCKS[1]
    assert "FrameStackRolloutBuffer" in BLOCKS[2] and 'gym.make_vec("ppog/SpaceInvaders-v5"' in BLOCKS[3]
    assert "MaskablePPOG(" in BLOCKS[4] and "RecurrentPPOG(" in BLOCKS[5]


def test_no_python_outside_a_python_fence():
    """Every README block that is Python is in a ``python`` fence, so it runs here (an indented one in a list item
    too). Catches Python in a plain fence (the FrameStackRolloutBuffer example was one, and never ran)."""
    blocks = readme_blocks(REPO / "README.md")
    assert sum(language == "python" for language, _ in blocks) == len(BLOCKS)
    for language, code in blocks:
        if language in ("", "py", "python3"):
            try:
                ast.parse(code)
            except SyntaxError:
                continue  # pseudo-code (the loss formulas)
            raise AssertionError(f"Python in a ```{language} fence, which the README test does not run:\n{code}")


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(index, tmp_path):
    code = shrink(BLOCKS[index])
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([core_python(), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"README python block {index}:\n{code}\n--- stderr ---\n{proc.stderr[-4000:]}"
    if "model.save(" in code:
        assert (tmp_path / "ppog_space_invaders.zip").is_file()

"""File sizes stay small: no module of the package is longer than sb3-contrib's largest algorithm files.

sb3-contrib's ``ppo_mask/ppo_mask.py`` is 469 lines and ``ppo_recurrent/ppo_recurrent.py`` 460; a module of this
package that grows past 500 lines is doing two things and should be split. (Catches: any package file growing past the
limit; checked by appending 500 blank lines to ``ppog_sb3/common/losses.py``.)
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ppog_sb3"
MAX_LINES = 500


def test_no_package_file_exceeds_500_lines():
    sizes = {path.relative_to(PACKAGE.parent): len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    assert len(sizes) > 20, "the package's files were not found"
    too_long = {str(path): lines for path, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"package files over {MAX_LINES} lines (split them): {too_long}"

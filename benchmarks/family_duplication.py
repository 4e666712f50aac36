"""Duplicated lines in the PPOG family against those sb3-contrib duplicates between ``ppo_mask`` and ``ppo_recurrent``.

    python benchmarks/family_duplication.py

Issue 24 asks for one seam: PPOG's update lives once, and the family's files repeat fewer lines than sb3-contrib's
``ppo_mask.py`` and ``ppo_recurrent.py`` repeat of each other (each carries a full copy of PPO's ``train()``).

How a line counts (the rule of the ``duplicates`` tool, written out so the test can run it anywhere): the source lines
of each file with blank lines, comments and import lines dropped and white space folded;
two files share a line where it stands in a run of at least :data:`MIN_RUN` consecutive lines that is identical in
both (``difflib`` matching blocks). A family's count is the sum over its pairs of files. Two counts per pair:

- ``all``: every shared run;
- ``outside __init__``: the shared runs that do not lie inside an ``__init__`` (a drop-in must repeat its parent's
  constructor signature and forward each argument by name: that part is required by the signature test, not a copy of
  logic).

Read off the installed sb3-contrib (its ``.py`` files are in site-packages) and this checkout; no download.
"""

from __future__ import annotations

import ast
import difflib
import itertools
import re
from pathlib import Path

MIN_RUN = 6

_ROOT = Path(__file__).resolve().parents[1]
OURS = tuple(
    _ROOT / "ppog_sb3" / name
    for name in ("ppog/ppog.py", "ppog/update.py", "ppog_mask/ppog_mask.py", "ppog_recurrent/ppog_recurrent.py")
)


def contrib_files() -> tuple[Path, Path]:
    """sb3-contrib's ``ppo_mask.py`` and ``ppo_recurrent.py``, as installed."""
    import sb3_contrib

    root = Path(sb3_contrib.__file__).parent
    return root / "ppo_mask" / "ppo_mask.py", root / "ppo_recurrent" / "ppo_recurrent.py"


def _init_lines(source: str) -> set[int]:
    """Line numbers (1-based) inside any function named ``__init__``."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def code_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, folded text)`` of the lines that count: not blank, not a comment, not an import."""
    out = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = " ".join(line.split())
        if not text or text.startswith("#") or re.match(r"^(from \S+ )?import ", text):
            continue
        out.append((number, text))
    return out


def shared(a: Path, b: Path) -> dict[str, int]:
    """Lines of ``a`` in runs of at least :data:`MIN_RUN` lines that ``b`` also has: all, and outside ``__init__``."""
    lines_a, lines_b = code_lines(a), code_lines(b)
    init_a, init_b = _init_lines(a.read_text()), _init_lines(b.read_text())
    matcher = difflib.SequenceMatcher(None, [t for _, t in lines_a], [t for _, t in lines_b], autojunk=False)
    total = outside = 0
    for block in matcher.get_matching_blocks():
        if block.size < MIN_RUN:
            continue
        total += block.size
        for k in range(block.size):
            if lines_a[block.a + k][0] not in init_a and lines_b[block.b + k][0] not in init_b:
                outside += 1
    return {"all": total, "outside __init__": outside}


def family(paths: tuple[Path, ...]) -> dict[str, int]:
    """The family's count: summed over every pair of its files."""
    counts = [shared(a, b) for a, b in itertools.combinations(paths, 2)]
    return {key: sum(c[key] for c in counts) for key in ("all", "outside __init__")}


def main() -> None:
    mask, recurrent = contrib_files()
    print(f"duplicated lines (runs of >= {MIN_RUN} identical code lines, summed over pairs of files)")
    theirs = shared(mask, recurrent)
    print(f"  sb3-contrib ppo_mask.py ~ ppo_recurrent.py: {theirs}")
    for a, b in itertools.combinations(OURS, 2):
        print(f"  ours {a.relative_to(_ROOT / 'ppog_sb3')} ~ {b.relative_to(_ROOT / 'ppog_sb3')}: {shared(a, b)}")
    print(f"  ours, all pairs of the {len(OURS)} files: {family(OURS)}")


if __name__ == "__main__":
    main()

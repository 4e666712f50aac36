"""The package's layers, read from its source with ``ast``: imports point down, and no import cycle.

Layers (ARCHITECTURE.md): ``zoo/`` -> ``experiments/``, ``ppog/``, ``envs/`` (and ``common/`` below them);
``experiments/`` -> ``envs/``, ``common/`` (not the zoo integration: it computes without rl_zoo3); ``ppog/`` ->
``common/``; ``ppog_mask/`` and ``ppog_recurrent/`` -> ``ppog/``, ``common/``; ``common/`` and ``envs/`` import nothing else
of the package; the top-level ``ppog_sb3/__init__.py`` is the public facade over ``ppog/``, ``ppog_mask/``,
``ppog_recurrent/`` and ``envs/``. Every import counts, also those inside functions (a lazy import is still a
dependency) and under ``TYPE_CHECKING``; a submodule's implicit import of its own package ``__init__`` does not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ppog_sb3"

#: layer -> the layers it may import (besides itself)
ALLOWED = {
    "top": {"ppog", "ppog_mask", "ppog_recurrent", "envs"},
    "zoo": {"experiments", "ppog", "ppog_recurrent", "envs", "common"},
    # the PPOG family over sb3-contrib's classes: PPOG's update (ppog/) on each parent's rollout and policies
    "ppog_mask": {"ppog", "common"},
    "ppog_recurrent": {"ppog", "common"},
    "experiments": {"envs", "common"},
    "ppog": {"common"},
    "common": set(),
    "envs": set(),
}


def module_name(path: Path) -> str:
    parts = ["ppog_sb3", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules that ``name`` imports (``from pkg import submodule`` names the submodule)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import ppog_sb3.zoo.cli.x` -> the deepest known module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, set(known)) for name, path in known.items()}


def layer(module: str) -> str:
    parts = module.split(".")
    return "top" if len(parts) == 1 else parts[1]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_import_graph_is_read():
    graph = import_graph()
    assert "ppog_sb3.common.buffers" in graph["ppog_sb3.ppog.ppog"]
    assert "ppog_sb3.zoo.fast_env" in graph["ppog_sb3.zoo.exp_manager"]  # `from ppog_sb3.zoo import fast_env`
    assert "ppog_sb3.zoo.exp_manager" in graph["ppog_sb3.zoo.seams"]  # an import inside a function counts


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("source_layer", sorted(ALLOWED))
def test_imports_point_down(source_layer):
    wrong = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if layer(module) == source_layer
        for target in sorted(targets)
        if layer(target) != source_layer and layer(target) not in ALLOWED[source_layer]
    ]
    assert not wrong, "\n".join(wrong)


def test_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None

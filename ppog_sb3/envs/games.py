"""Game names: the ALE ROM ids the plugin knows, and the lookup that turns a user's spelling into one.

Only ``ale_py.roms`` is imported (it lists the ROM files bundled with ale-py, ~0.2 s together with ``import ale_py``);
nothing here loads a ROM or builds an environment, so it is cheap enough to run at package import.
"""

from __future__ import annotations

import difflib
import functools
import re

# ROMs without a single-player mode: ale-py registers no ``ALE/...-v5`` id for them either.
MULTIPLAYER_ONLY_ROMS = frozenset({"combat", "joust", "maze_craze", "warlords"})

_VERSION_SUFFIX = re.compile(r"-v\d+$")
_MODE_SUFFIXES = ("noframeskip", "deterministic")


def rom_id_to_name(rom: str) -> str:
    """``"space_invaders"`` -> ``"SpaceInvaders"`` (the spelling ale-py uses in ``ALE/SpaceInvaders-v5``)."""
    return rom.title().replace("_", "")


@functools.cache
def list_games() -> tuple[str, ...]:
    """The ALE ROM ids (snake_case, e.g. ``"space_invaders"``) the plugin supports, sorted."""
    from ale_py import roms

    return tuple(sorted(rom for rom in roms.get_all_rom_ids() if rom not in MULTIPLAYER_ONLY_ROMS))


def _normalize(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


@functools.cache
def _lookup_table() -> dict[str, str]:
    return {_normalize(rom): rom for rom in list_games()}


def resolve_game(game: str) -> str:
    """Turn a game name into its ALE ROM id, or raise ``ValueError`` listing close matches.

    Accepted spellings (case-insensitive): ``"SpaceInvaders"``, ``"space_invaders"``, ``"space-invaders"``, and full ids
    such as ``"ppog/SpaceInvaders-v5"``, ``"ALE/SpaceInvaders-v5"`` or ``"SpaceInvadersNoFrameskip-v4"``.
    """
    if not isinstance(game, str) or not game.strip():
        raise ValueError(
            f"game={game!r} is not a game name; expected an ALE game such as 'SpaceInvaders' or 'space_invaders' "
            "(the full list: ppog_sb3.envs.list_games())"
        )
    name = _VERSION_SUFFIX.sub("", game.strip().split("/")[-1])
    key = _normalize(name)
    table = _lookup_table()
    if key not in table:
        for suffix in _MODE_SUFFIXES:
            if key.endswith(suffix) and key[: -len(suffix)] in table:
                key = key[: -len(suffix)]
                break
    if key in table:
        return table[key]
    if key in {_normalize(rom) for rom in MULTIPLAYER_ONLY_ROMS}:
        raise ValueError(f"game={game!r} is a multi-player-only ROM, which has no single-player mode to train on")
    close = difflib.get_close_matches(key, list(table), n=5, cutoff=0.6)
    hint = f" Close matches: {', '.join(rom_id_to_name(table[c]) for c in close)}." if close else ""
    raise ValueError(
        f"game={game!r} is not a known ALE game.{hint} Allowed values: the {len(table)} names in "
        "ppog_sb3.envs.list_games() (snake_case ROM ids like 'space_invaders', or CamelCase like 'SpaceInvaders')."
    )

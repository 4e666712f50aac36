"""Experiment tools on zoo log folders: :mod:`.compare` (``ppog-zoo compare``: learning curves, trust-region metrics,
final scores) and :mod:`.study` (``ppog-zoo study``: many-seed studies, resumable, with rliable statistics).

They read and write run folders and never need rl_zoo3 to compute: importing them does not import it (a study trains
its runs as ``ppog-zoo train`` subprocesses). Below :mod:`ppog_sb3.zoo`, whose ``ppog-zoo`` dispatches to them.
"""

"""``ppog-zoo study``: a many-seed PPOG-vs-PPO study of zoo runs (``run``, resumable; ``status``; ``random``;
``report`` with rliable statistics). Layout of the runs and the decisions: ``docs/experiments.md``.

Modules: :mod:`.spec` (the study file and the layout), :mod:`.runner`, :mod:`.report`, :mod:`.command`.
"""

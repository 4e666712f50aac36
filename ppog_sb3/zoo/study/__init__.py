"""``ppog-zoo study``: a many-seed PPOG-vs-PPO study of zoo runs, resumable, and its statistics.

``ppog-zoo study run STUDY.yml -f results/logs/minatar`` trains, with the real ``ppog-zoo train`` in a subprocess,
every (setting, arm, game, seed) of the study file (``zoo_configs/minatar/study.yml`` is the one of issue 15) whose
folder has no ``study_run.yml`` yet; ``--workers`` runs side by side. ``ppog-zoo study random`` measures the
uniform-random policy's score of each game (the lower end of the normalization); ``ppog-zoo study report`` computes
the statistics (:mod:`ppog_sb3.zoo.study.report`).

Layout: run ``(setting, arm, game, seed)`` is the zoo log folder ``<root>/<setting>/<arm>/seed_<seed>/`` (below it
the zoo's own ``<algo>/<EnvName>_1/`` with monitor CSVs, ``progress.csv`` and the zoo's ``args.yml``/``config.yml``),
so its place is a function of the run alone and two workers never race for the zoo's next run number. A run is done
when ``<root>/<setting>/<arm>/seed_<seed>/<EnvName>.study_run.yml`` exists: written after the training process
exited with 0, it records what ran, where, and how long. A zoo run folder without it (a crash, a kill) is deleted
and the run starts again from scratch: a run is minutes, and resuming a half-written monitor file would be harder to trust.

Decisions: training processes get one torch thread each (``--num-threads 1``) and no evaluation callback
(``--eval-freq -1``): the study's score is the training episodes' return (monitor files), as in the MinAtar paper
and the PPO paper's Atari table; ``--workers`` defaults to the number of cores.

Modules: :mod:`~ppog_sb3.zoo.study.spec` (the study file, the layout), :mod:`~ppog_sb3.zoo.study.runner` (training
the runs, the random scores), :mod:`~ppog_sb3.zoo.study.report` (rliable statistics and plots, imported only by
``report``), :mod:`~ppog_sb3.zoo.study.command` (the command line).
"""

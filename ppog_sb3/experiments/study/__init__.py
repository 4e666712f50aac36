"""``ppog-zoo study``: a many-seed PPOG-vs-PPO study of zoo runs, resumable, and its statistics.

``ppog-zoo study run STUDY.yml -f results/logs/minatar`` trains, with the real ``ppog-zoo train`` in a subprocess,
every (setting, arm, game, seed) of the study file (``zoo_configs/minatar/study.yml`` is the one of issues 15 and 25;
each setting and arm on its games) whose folder has no ``study_run.yml`` yet; ``--workers`` runs side by side.
``ppog-zoo study random`` measures the uniform-random policy's score of each game (the lower end of the
normalization); ``ppog-zoo study report`` computes the statistics (:mod:`ppog_sb3.experiments.study.report`).

Layout: run ``(setting, arm, game, seed)`` is the zoo log folder ``<root>/<setting>/<arm>/seed_<seed>/`` (below it
the zoo's own ``<algo>/<EnvName>_1/`` with monitor CSVs, ``progress.csv`` and the zoo's ``args.yml``/``config.yml``),
so its place is a function of the run alone and two workers never race for the zoo's next run number. A run is done
when ``<root>/<setting>/<arm>/seed_<seed>/<EnvName>.study_run.yml`` exists: written after the training process
exited with 0 having trained all ``n_timesteps`` (the zoo also exits with 0 after Ctrl-C), it records what ran,
where, and how long.

Interrupted runs resume. Every run writes a checkpoint every ``checkpoint_freq`` agent steps (study file; default a
tenth of the run) with ``ppog-zoo train --checkpoint-freq``; the next ``study run`` continues an unfinished run from
its checkpoint (``ppog-zoo train --resume``, :mod:`ppog_sb3.zoo.restart_resume`: the rows logged after the checkpoint
are cut, the weights, optimizer and schedules continue exactly, the envs start new episodes) and its marker lists
``resumed_at_steps`` and each segment's machine and code (the first one's kept in ``<EnvName>.study_start.yml``
until the run is done). A zoo run folder without a checkpoint is deleted and trained from the start. Decision (changed
from "always from scratch" when the ALE runs came: hours each, longer than a session): resume, and say so in the
run's record, so a report can tell resumed runs from the others. A run being trained is locked (``flock`` on
``<root>/<setting>/<arm>/seed_<seed>/<EnvName>.lock``, inherited by its training process): another runner skips it.

Decisions: training processes get one torch thread each (``--num-threads 1``) and no evaluation callback
(``--eval-freq -1``): the study's score is the training episodes' return (monitor files), as in the MinAtar paper
and the PPO paper's Atari table; ``--workers`` defaults to the number of cores.

Modules: :mod:`.spec` (the study file, games per setting and arm, the layout), :mod:`.runner` (training the runs, the
random scores), :mod:`.report` (rliable statistics and plots, imported only by ``report``), :mod:`.command` (the
command line).
"""

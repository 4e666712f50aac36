"""``progress.csv`` of a ``ppog-zoo train`` run: SB3's logger output as CSV, next to its other outputs.

``train`` adds a CSV output to SB3's logger (next to stdout/tensorboard, as configured by
``--verbose``/``-tb``): ``<log-folder>/<algo>/<env>_<n>/progress.csv``, one row per logger dump, one column per
logged key, e.g. ``time/total_timesteps``, ``time/fps``, ``rollout/ep_rew_mean`` (mean of the last 100
``info["episode"]`` scores: full games on the fast path), ``rollout/ep_len_mean``, ``train/approx_kl``,
``train/clip_fraction``, ``train/masked_fraction`` and ``train/ent_coef`` (PPOG), ``train/learning_rate``... A row
is written at each ``log_interval`` (every rollout for on-policy algorithms), and ``EvalCallback`` adds one at each
evaluation (``eval/*``, ``time/total_timesteps``). The ``train/*`` values of an update land in the next row
written after it (SB3 dumps before training): the next rollout's, or an evaluation row when an evaluation falls
in that rollout; cells of keys not logged since the previous row are empty. A key first logged later (e.g.
``rollout/ep_rew_mean`` after the first game ends) adds a column: SB3's CSV writer then rewrites the file with
the wider header, earlier rows get empty cells. Read it with ``pandas.read_csv``. Hyperparameter-search trials
write none. A run resumed from its checkpoint (``--resume``, :mod:`ppog_sb3.zoo.restart_resume`) writes on into the
same file.
"""

from __future__ import annotations

import csv
import os

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import CSVOutputFormat

#: SB3 logger CSV of a ``train`` run, in its run folder.
PROGRESS_CSV = "progress.csv"


class ProgressCSVCallback(BaseCallback):
    """Adds a CSV output (``path``) to the model's SB3 logger for the length of one ``learn()`` call.

    Decision: a callback, not ``model.set_logger(...)``: SB3 configures its logger (stdout, tensorboard with its
    run numbering) at the start of ``learn()`` unless a custom logger was set, so adding one output to that logger
    keeps every configured output as it is. ``_on_training_end`` closes the file (idempotent: the zoo calls the
    first callback's ``on_training_end`` once more after ``learn()``).
    """

    def __init__(self, path: str, append: bool = False) -> None:
        super().__init__()
        self.path = path
        self.append = append
        self._output: CSVOutputFormat | None = None

    def _on_training_start(self) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        if self.append and os.path.isfile(self.path):
            self._output = _ContinuedCSVOutputFormat(self.path)
        else:
            self._output = CSVOutputFormat(self.path)
        self.logger.output_formats.append(self._output)

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        if self._output is None:
            return
        if self._output in self.logger.output_formats:
            self.logger.output_formats.remove(self._output)
        self._output.close()
        self._output = None


class _ContinuedCSVOutputFormat(CSVOutputFormat):
    """SB3's CSV output continuing an existing file (a resumed run, :mod:`ppog_sb3.zoo.restart_resume`): its header's
    keys, new rows at the end; a new key widens the whole file as SB3's writer does."""

    def __init__(self, filename: str) -> None:  # noqa: D107  (SB3's __init__ would truncate the file)
        with open(filename, newline="") as handle:
            header = next(csv.reader(handle), [])
        self.file = open(filename, "r+")  # noqa: SIM115  (closed by close(), as SB3's)
        self.file.seek(0, os.SEEK_END)
        self.keys: list[str] = list(header)
        self.separator = ","
        self.quotechar = '"'

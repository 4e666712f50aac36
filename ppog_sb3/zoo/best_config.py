"""``ppog-zoo best-config``: a search's best trial written as a zoo config section, to train it with new seeds.

``ppog-zoo best-config --storage URL --study-name NAME --algo ALGO --env ENV -conf BASE.yml -o OUT.yml [--trial-id N]``
writes (adds or replaces) the ``ENV`` section of ``OUT.yml``: the base config's section for ``ENV`` (looked up as the
zoo does: the env id, the ``atari`` section for ALE ids, ``default``) with the trial's hyperparameters over it, as the
search trained them:

- the trial's raw parameters converted by the zoo's converter for the algorithm (``HYPERPARAMS_CONVERTER[algo]``,
  what ``--trial-id`` uses), except where the trial's user attributes record the value its sampler actually used
  (PPOG's sampler clamps ``batch_size`` to the rollout, which the converter cannot know);
- ``policy_kwargs`` as the zoo's source string: the base's, updated key by key with the trial's (the search's rule,
  :mod:`ppog_sb3.zoo.policy_kwargs`), so a base ``features_extractor_class`` stays;
- every key commented with where it comes from (the trial and study, or the base file and section), the section
  headed by the trial's value, state and raw parameters and the search's command line.

Other sections of ``OUT.yml`` are kept as they are, text and comments included. Then
``ppog-zoo train --algo ALGO --env ENV -conf OUT.yml --seed S`` trains the trial's configuration (tested: the trained
model's hyperparameters are the trial model's).
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial

from ppog_sb3.envs import is_plugin_id
from ppog_sb3.zoo.errors import ZooError
from ppog_sb3.zoo.optuna_study import STUDY_ALGO_ATTR, STUDY_ENV_ATTR, first_line, open_storage, redact_url
from ppog_sb3.zoo.policy_kwargs import merge_policy_kwargs_source

FILE_HEADER = (
    "# Tuned configurations, one section per env, written by `ppog-zoo best-config` from an Optuna study (rerun it to\n"
    "# replace a section). Train one with `ppog-zoo train --algo ALGO --env ENV -conf THIS_FILE --seed S`.\n"
)


def load_study(storage_url: str, study_name: str) -> optuna.Study:
    """The study, or one error line naming the studies the storage has."""
    storage = open_storage(storage_url, heartbeat_interval=0, grace_period=1)
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise ZooError(
            f"no study '{study_name}' in {redact_url(storage_url)}; its studies: {', '.join(names) or 'none'}"
        ) from None


def pick_trial(study: optuna.Study, trial_number: int | None) -> FrozenTrial:
    """Trial ``trial_number`` (any state with parameters), or the best COMPLETE trial."""
    trials = study.get_trials(deepcopy=False)
    if trial_number is None:
        try:
            return study.best_trial
        except ValueError:
            states = ", ".join(sorted({t.state.name for t in trials})) or "no trials"
            raise ZooError(f"study '{study.study_name}' has no COMPLETE trial yet ({states}): no best trial") from None
    found = [t for t in trials if t.number == trial_number]
    if not found:
        raise ZooError(f"--trial-id {trial_number}: study '{study.study_name}' has trials 0 to {len(trials) - 1}")
    if not found[0].params:
        raise ZooError(f"--trial-id {trial_number}: trial {trial_number} ({found[0].state.name}) has no parameters")
    return found[0]


def trial_hyperparams(algo: str, trial: FrozenTrial) -> dict[str, Any]:
    """The trial's model arguments: the zoo's converter, the trial's recorded values where its sampler changed one."""
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER

    if algo not in HYPERPARAMS_CONVERTER:
        raise ZooError(
            f"--algo {algo}: the zoo has no converter for it; algorithms: {', '.join(sorted(HYPERPARAMS_CONVERTER))}"
        )
    hyperparams = HYPERPARAMS_CONVERTER[algo](dict(trial.params))
    for key, value in trial.user_attrs.items():
        if key in hyperparams and key != "policy_kwargs" and value != hyperparams[key]:
            hyperparams[key] = value  # the sampler's effective value (e.g. batch_size clamped to the rollout)
    return hyperparams


def base_section(conf: str, env_id: str) -> tuple[str, dict[str, Any]]:
    """``(section name, section)`` of the base YAML config, found as the zoo finds it."""
    from rl_zoo3.exp_manager import ExperimentManager

    try:
        sections = yaml.safe_load(Path(conf).read_text())
    except OSError as error:
        raise ZooError(f"-conf {conf}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ZooError(f"cannot parse {conf}: {' '.join(str(error).split())}") from error
    if not isinstance(sections, dict):
        raise ZooError(f"-conf {conf}: not a zoo config (a mapping of env ids to hyperparameters)")
    atari = ExperimentManager.is_atari(env_id) and not is_plugin_id(env_id)
    for name in (env_id, "atari" if atari else None, "default"):
        if name is not None and isinstance(sections.get(name), dict):
            return name, dict(sections[name])
    raise ZooError(f"{conf} has no section for {env_id} (nor a 'default' one)")


def yaml_value(value: Any) -> str:
    """One YAML flow value that reads back as ``value`` (strings double-quoted, floats as PyYAML reads them)."""
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a YAML double-quoted scalar
    try:
        text = yaml.safe_dump(value, default_flow_style=True, width=2**31 - 1).strip()
    except yaml.representer.RepresenterError as error:
        raise ZooError(f"cannot write {value!r} ({type(value).__name__}) in a YAML config") from error
    return text.removesuffix("...").strip()


def yaml_key(key: str) -> str:
    return key if yaml.safe_load(f"{key}: 0") == {key: 0} else json.dumps(key)


def build_section(
    algo: str, env_id: str, conf: str, study: optuna.Study, trial: FrozenTrial, storage_url: str
) -> tuple[str, dict[str, Any]]:
    """``(YAML text of the ENV section, the mapping it reads back as)``."""
    section_name, base = base_section(conf, env_id)
    tuned = trial_hyperparams(algo, trial)
    merged = dict(base)
    for key, value in tuned.items():
        merged[key] = merge_policy_kwargs_source(base.get(key), value) if key == "policy_kwargs" else value
    name = f"trial {trial.number} of study '{study.study_name}'"
    origin = f"{conf} [{section_name}]"
    value = "no value" if trial.value is None else f"value {trial.value:g}"
    raw = ", ".join(f"{key}={param!r}" for key, param in trial.params.items())
    header = [f"{env_id}: {name} ({trial.state.name}, {value}) in {redact_url(storage_url)}, over {origin}."]
    header.append(f"Its raw parameters: {raw}")
    command = study.user_attrs.get("command")
    if command:
        header.append(f"The search: {' '.join(str(command).split())}")
    lines = [
        line
        for paragraph in header
        for line in textwrap.wrap(
            paragraph, width=120, initial_indent="# ", subsequent_indent="#   ", break_long_words=False, break_on_hyphens=False
        )
    ]
    lines.append(f"{yaml_key(env_id)}:")
    for key in sorted(merged):
        if key == "policy_kwargs" and key in tuned:
            where = f"{origin}, {', '.join(tuned[key])} from {name}" if key in base else name
        else:
            where = name if key in tuned else origin
        lines.append(f"  {yaml_key(key)}: {yaml_value(merged[key])}  # {where}")
    return "\n".join(lines) + "\n", merged


def replace_section(text: str, env_id: str, section: str) -> str:
    """``text`` (a YAML file) with the top-level block of ``env_id`` and its comment lines just above replaced by
    ``section``, or ``section`` appended; the rest of the text as it was."""
    lines = text.splitlines(keepends=True)
    key_line = re.compile(rf"^(?:{re.escape(env_id)}|{re.escape(json.dumps(env_id))})\s*:\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if key_line.match(line.rstrip("\n"))), None)
    if start is None:
        body = text if not text or text.endswith("\n") else text + "\n"
        return body + ("\n" if body else "") + section
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # blank lines after the block belong to the next one
    while start > 0 and lines[start - 1].startswith("#"):
        start -= 1
    return "".join(lines[:start]) + section + "".join(lines[end:])


def write_best_config(
    storage_url: str, study_name: str, algo: str, env_id: str, conf: str, output: str, trial_number: int | None = None
) -> FrozenTrial:
    """Write the ``env_id`` section of ``output`` (module docstring); return the trial written."""
    study = load_study(storage_url, study_name)
    for attr, option, given in ((STUDY_ENV_ATTR, "--env", env_id), (STUDY_ALGO_ATTR, "--algo", algo)):
        searched = study.user_attrs.get(attr)  # None: a study made by another tool
        if searched is not None and searched != given:
            raise ZooError(f"study '{study_name}' was searched with {option} {searched}, not {given}")
    trial = pick_trial(study, trial_number)
    section, expected = build_section(algo, env_id, conf, study, trial, storage_url)
    path = Path(output)
    old = path.read_text() if path.exists() else FILE_HEADER
    new = replace_section(old, env_id, section)
    try:
        old_sections = yaml.safe_load(old) or {}
        new_sections = yaml.safe_load(new)
    except yaml.YAMLError as error:
        raise ZooError(f"cannot parse {output}: {first_line(error)}") from error
    others_before = {key: value for key, value in old_sections.items() if key != env_id}
    others_after = {key: value for key, value in new_sections.items() if key != env_id}
    if new_sections.get(env_id) != expected or others_after != others_before:
        raise ZooError(f"{output}: the section written for {env_id} does not read back as computed (nothing written)")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(new)
    os.replace(temporary, path)
    return trial


def main(argv: list[str]) -> int:
    """``ppog-zoo best-config ARGS`` (the zoo's tables must hold ``algo``'s converter: ``ppog`` is registered by the CLI)."""
    from ppog_sb3.zoo.seams import OneLineErrorParser

    parser = OneLineErrorParser(
        prog="ppog-zoo best-config",
        description="Write a search's best trial (or --trial-id N) as the ENV section of a zoo config file.",
        allow_abbrev=False,
    )
    parser.add_argument("--storage", required=True, help="the study's Optuna storage URL (sqlite:///..., postgresql://...)")
    parser.add_argument("--study-name", required=True, help="the study's name")
    parser.add_argument("--algo", required=True, help="the search's --algo (picks the zoo's converter of raw parameters)")
    parser.add_argument("-e", "--env", required=True, help="the search's env id: the section written")
    parser.add_argument("-conf", "--conf-file", required=True, help="the search's -conf: its ENV section is the base")
    parser.add_argument("-o", "--output", required=True, help="the config file to write (other sections are kept)")
    parser.add_argument("--trial-id", type=int, default=None, help="this trial instead of the best COMPLETE one")
    args = parser.parse_args(argv)
    trial = write_best_config(
        args.storage, args.study_name, args.algo, args.env, args.conf_file, args.output, trial_number=args.trial_id
    )
    print(f"Wrote {args.env} in {args.output}: trial {trial.number} of study '{args.study_name}' (value {trial.value})")
    return 0

"""PPOG's rl-zoo configs, shipped inside the package as ``ppog_sb3.zoo_configs`` (see pyproject.toml).

``ppog-zoo train --algo ppog`` reads ``ppog.yml`` from here when no ``-conf`` is given; this file only makes the
folder an importable package, so that ``importlib.resources`` finds it in a wheel and in an editable install.
"""

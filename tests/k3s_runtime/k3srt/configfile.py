"""config.yaml + config.yaml.d/*.yaml merge and conversion to flags (K3S_BEHAVIOUR §2)."""

from __future__ import annotations

import os
import re
import urllib.request

import yaml

DEFAULT_PATH = "/etc/rancher/k3s/config.yaml"


class ConfigError(Exception):
    pass


def find_path(argv: list[str], env: dict) -> str:
    """K3S_CONFIG_FILE beats --config/-c (findConfigFileFlag checks the env var first); only `--config`, `-c`,
    `--config=` and `-c=` are recognised (pkg/configfilearg/defaultparser.go ConfigFlags)."""
    if env.get("K3S_CONFIG_FILE"):
        return env["K3S_CONFIG_FILE"]
    for i, arg in enumerate(argv):
        for name in ("--config", "-c"):
            if arg == name:
                return argv[i + 1] if i + 1 < len(argv) else ""
            if arg.startswith(name + "="):
                return arg[len(name) + 1 :]
    return DEFAULT_PATH


class _Loader(yaml.SafeLoader):
    """YAML as gopkg.in/yaml.v2 reads it into interface{}: y/Y/n/N are booleans too (PyYAML only knows yes/no/on/off
    and true/false)."""


_BOOLS = {v: True for v in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")}
_BOOLS.update({v: False for v in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")})


def _construct_bool(loader, node):
    return _BOOLS[loader.construct_scalar(node)]


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:" + "|".join(_BOOLS) + r")$"), list("yYnNtTfFoO")
)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def _read(path: str) -> dict:
    if path.startswith(("http://", "https://")):
        with urllib.request.urlopen(path, timeout=10) as resp:  # noqa: S310 - k3s supports URLs here
            text = resp.read().decode()
    else:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"failed to parse {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"failed to parse {path}: top level must be a map")
    return data


def files(path: str) -> list[str]:
    out = []
    if path.startswith(("http://", "https://")) or os.path.isfile(path):
        out.append(path)
    dropins = f"{path}.d"
    if os.path.isdir(dropins):
        for name in sorted(os.listdir(dropins)):
            full = os.path.join(dropins, name)
            if name.lower().endswith((".yaml", ".yml")) and os.path.isfile(full):
                out.append(full)
    return out


def _to_slice(value) -> list:
    """toSlice: a string is one item, a list stays, anything else is its string form, dropped when empty (so a
    `key+:` with no value adds nothing)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return value
    text = _to_str(value).strip()
    return [text] if text else []


def merge(paths: list[str]) -> dict:
    """readConfigFile: flat merge, last file wins per key; `key+` appends to an existing value (k3s
    pkg/configfilearg/parser.go). A first `key+` just sets the value. Key order = order of first appearance."""
    merged: dict = {}
    for path in paths:
        for raw_key, value in _read(path).items():
            key = _to_str(raw_key)
            append = key.endswith("+")
            key = key.removesuffix("+")
            if append and key in merged:
                merged[key] = _to_slice(merged[key]) + _to_slice(value)
            else:
                merged[key] = value
    return merged


def _to_str(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def to_args(merged: dict, known: set[str] | None, warn) -> list[str]:
    """Each key -> --key=value (one per list item). known=None: no filtering (the agent)."""
    args = []
    for key, value in merged.items():
        if known is not None and key not in known:
            warn(f"Unknown flag --{key} found in config.yaml, skipping")
            continue
        dash = "-" if len(key) == 1 else "--"
        items = value if isinstance(value, list) else [value]
        for item in items:
            args.append(f"{dash}{key}={_to_str(item)}")
    return args


def load_args(argv: list[str], env: dict, known: set[str] | None, warn) -> tuple[list[str], str]:
    path = find_path(argv, env)
    return to_args(merge(files(path)), known, warn), path

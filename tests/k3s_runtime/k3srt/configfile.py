"""config.yaml + config.yaml.d/*.yaml merge and conversion to flags (K3S_BEHAVIOUR §2)."""

from __future__ import annotations

import os
import urllib.request

import yaml

DEFAULT_PATH = "/etc/rancher/k3s/config.yaml"


class ConfigError(Exception):
    pass


def find_path(argv: list[str], env: dict) -> str:
    """K3S_CONFIG_FILE beats --config/-c (k3s checks the env var first)."""
    if env.get("K3S_CONFIG_FILE"):
        return env["K3S_CONFIG_FILE"]
    for i, arg in enumerate(argv):
        for name in ("--config", "-config", "-c", "--c"):
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return DEFAULT_PATH


def _read(path: str) -> dict:
    if path.startswith(("http://", "https://")):
        with urllib.request.urlopen(path, timeout=10) as resp:  # noqa: S310 - k3s supports URLs here
            text = resp.read().decode()
    else:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    try:
        data = yaml.safe_load(text)
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


def merge(paths: list[str]) -> dict:
    """Flat merge: last file wins per key; `key+` appends to what was accumulated."""
    merged: dict = {}
    for path in paths:
        for raw_key, value in _read(path).items():
            key = str(raw_key)
            if key.endswith("+"):
                key = key[:-1]
                prev = merged.get(key, [])
                prev = prev if isinstance(prev, list) else [prev]
                merged[key] = prev + (value if isinstance(value, list) else [value])
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

"""Embedded containerd: alternative-runtime detection and config generation (K3S_BEHAVIOUR.md §3, §7).

`write_config(data_dir, config, path_env, containerd_major, log)` is called on every agent start (embedded
containerd only). It rewrites `<D>/agent/etc/containerd/config.toml` from a user template if one exists
(`config-v3.toml.tmpl` first when containerd >= 2, then `config.toml.tmpl`) or from the stock config, regenerates
`certs.d/<host>/hosts.toml` from `--private-registry`, and writes `<D>/agent/etc/crictl.yaml`.
"""

from __future__ import annotations

import os
import stat

from . import containerd_registries as registries
from .containerd_stock import SOCKET, StockParams, render_v2, render_v3
from .containerd_template import render_template
from .containerd_util import ContainerdError, as_bool, make_dir, write_file

__all__ = [
    "RUNTIME_BINARIES",
    "RUNTIME_TYPES",
    "ContainerdError",
    "detect_runtimes",
    "nvidia_present",
    "write_config",
]

# binary searched on PATH -> runtime (handler) name
RUNTIME_BINARIES: dict[str, str] = {
    "nvidia-container-runtime": "nvidia",
    "nvidia-container-runtime-experimental": "nvidia-experimental",
    "nvidia-container-runtime.cdi": "nvidia-cdi",
    "crun": "crun",
    "containerd-shim-lunatic-v1": "lunatic",
    "containerd-shim-slight-v1": "slight",
    "containerd-shim-spin-v2": "spin",
    "containerd-shim-wws-v1": "wws",
    "containerd-shim-wasmedge-v1": "wasmedge",
    "containerd-shim-wasmer-v1": "wasmer",
    "containerd-shim-wasmtime-v1": "wasmtime",
}
# runtime name -> containerd runtime_type
RUNTIME_TYPES: dict[str, str] = {
    "nvidia": "io.containerd.runc.v2",
    "nvidia-experimental": "io.containerd.runc.v2",
    "nvidia-cdi": "io.containerd.runc.v2",
    "crun": "io.containerd.runc.v2",
    "lunatic": "io.containerd.lunatic.v1",
    "slight": "io.containerd.slight.v1",
    "spin": "io.containerd.spin.v2",
    "wws": "io.containerd.wws.v1",
    "wasmedge": "io.containerd.wasmedge.v1",
    "wasmer": "io.containerd.wasmer.v1",
    "wasmtime": "io.containerd.wasmtime.v1",
}
NVIDIA_RUNTIMES = ("nvidia", "nvidia-experimental", "nvidia-cdi")
SEARCH_PREFIX = "/usr/local/nvidia/toolkit:/opt/kwasm/bin"
DEFAULT_PAUSE_IMAGE = "rancher/mirrored-pause:3.6"
DEFAULT_PRIVATE_REGISTRY = "/etc/rancher/k3s/registries.yaml"
TEMPLATE_V3 = "config-v3.toml.tmpl"
TEMPLATE_V2 = "config.toml.tmpl"


def _is_executable_file(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and os.access(path, os.X_OK)


def _look_path(binary: str, dirs: list[str]) -> str | None:
    """Go exec.LookPath: first executable match wins; a match in a relative dir is an error (ErrDot) → not found."""
    for directory in dirs:
        candidate = os.path.join(directory or ".", binary)
        if _is_executable_file(candidate):
            return os.path.normpath(candidate) if os.path.isabs(candidate) else None
    return None


def detect_runtimes(path_env: str) -> dict[str, str]:
    """runtime name -> absolute binary path, searching /usr/local/nvidia/toolkit:/opt/kwasm/bin then path_env."""
    dirs = (SEARCH_PREFIX + ":" + (path_env or "")).split(os.pathsep)
    found = {}
    for binary, name in RUNTIME_BINARIES.items():
        path = _look_path(binary, dirs)
        if path:
            found[name] = path
    return dict(sorted(found.items()))


def nvidia_present(runtimes) -> bool:
    return any(name in runtimes for name in NVIDIA_RUNTIMES)


def _kernel_at_least(release: str, major: int, minor: int) -> bool:
    nums = []
    for part in release.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit()) if part[:1].isdigit() else ""
        nums.append(int(digits) if digits else 0)
    while len(nums) < 2:
        nums.append(0)
    return tuple(nums) >= (major, minor)


def host_systemd_cgroup() -> bool:
    """runc's SystemdCgroup as k3s sets it: running under systemd with the cpuset controller available."""
    if not os.path.isdir("/run/systemd/system"):
        return False
    try:
        with open("/sys/fs/cgroup/cgroup.controllers", encoding="ascii") as f:
            return "cpuset" in f.read().split()
    except OSError:
        return os.path.isdir("/sys/fs/cgroup/cpuset")


def _select_template(etc: str, containerd_major: int) -> tuple[str | None, int]:
    """(template path or None, config version of that template)."""
    candidates = [(TEMPLATE_V3, 3), (TEMPLATE_V2, 2)] if containerd_major >= 2 else [(TEMPLATE_V2, 2)]
    for name, version in candidates:
        path = os.path.join(etc, name)
        if os.path.isfile(path):
            return path, version
    return None, 3 if containerd_major >= 2 else 2


def _write_crictl(data_dir: str) -> None:
    etc = os.path.join(data_dir, "agent", "etc")
    make_dir(etc)
    write_file(os.path.join(etc, "crictl.yaml"), "runtime-endpoint: unix://%s\n" % SOCKET, 0o644)


def write_config(
    data_dir: str,
    config: dict,
    path_env: str,
    containerd_major: int,
    log,
    *,
    systemd_cgroup: bool | None = None,
) -> dict:
    """Generate config.toml (+ certs.d, crictl.yaml); raise ContainerdError on the errors k3s fails start with."""
    if not isinstance(containerd_major, int) or containerd_major < 1:
        raise ValueError("containerd_major must be a positive integer, got %r" % (containerd_major,))
    runtimes = detect_runtimes(path_env)
    for name, path in runtimes.items():
        log("Found %s container runtime at %s" % (name, path), level="info")
    default_runtime = config.get("default-runtime") or None
    if default_runtime and default_runtime not in runtimes:
        raise ContainerdError("failed to start container runtime: default runtime %s was not found" % default_runtime)

    registry_file = config.get("private-registry") or DEFAULT_PRIVATE_REGISTRY
    regs = registries.load_registries(registry_file)
    if regs is not None:
        log("Using private registry config file at %s" % registry_file, level="info")

    etc = os.path.join(data_dir, "agent", "etc", "containerd")
    params = StockParams(
        data_dir=data_dir,
        pause_image=config.get("pause-image") or DEFAULT_PAUSE_IMAGE,
        snapshotter=config.get("snapshotter") or "overlayfs",
        selinux=as_bool(config.get("selinux", False)),
        nonroot_devices=as_bool(config.get("nonroot-devices", False)),
        unprivileged=_kernel_at_least(os.uname().release, 4, 11),
        cni=(config.get("flannel-backend") or "vxlan") != "none",
        default_runtime=default_runtime,
        systemd_cgroup=host_systemd_cgroup() if systemd_cgroup is None else bool(systemd_cgroup),
        runtimes=[(name, RUNTIME_TYPES[name], path) for name, path in runtimes.items()],
        auths=sorted(regs.auths.items()) if regs else [],
    )
    template, version = _select_template(etc, containerd_major)
    base = render_v3(params) if version == 3 else render_v2(params)
    if template:
        log("Using containerd template at %s" % template, level="info")
        try:
            with open(template, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ContainerdError("failed to read containerd config template %s: %s" % (template, e)) from e
        content = render_template(text, base, template)
    else:
        content = base

    make_dir(etc)
    hosts = registries.write_hosts(
        os.path.join(etc, "certs.d"),
        regs,
        as_bool(config.get("disable-default-registry-endpoint", False)),
        registry_file,
    )
    config_path = os.path.join(etc, "config.toml")
    write_file(config_path, content, 0o600)
    _write_crictl(data_dir)
    return {
        "config_path": config_path,
        "runtimes": dict(runtimes),
        "default_runtime": default_runtime,
        "version": version,
        "template": template,
        "registries": hosts,
    }

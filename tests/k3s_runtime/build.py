#!/usr/bin/env python3
"""Build the k3s-compatible TEST RUNTIME releases: <out>/<version>/{k3s, k3s-airgap-images-amd64.tar.gz,
sha256sum-amd64.txt}. Builds are reproducible (fixed timestamps), so an unchanged source gives unchanged checksums.

usage: build.py --out DIR [--only VERSION ...]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import zipfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, "k3srt")
EPOCH = (2020, 1, 1, 0, 0, 0)
IMAGES = ("docker.io/rancher/mirrored-pause:3.6", "docker.io/rancher/mirrored-coredns-coredns:1.12.1")


def sources() -> list[tuple[str, bytes]]:
    out = []
    for root, dirs, files in os.walk(PKG):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                full = os.path.join(root, name)
                rel = os.path.relpath(full, HERE)
                with open(full, "rb") as fh:
                    out.append((rel, fh.read()))
    return out


def buildinfo(rel: dict, commit: str) -> bytes:
    major = int(rel["containerd"].lstrip("v").split(".")[0])
    return (
        '"""Build identity of this release of the k3s test runtime (written by build.py)."""\n\n'
        f"VERSION = {rel['version']!r}\nCOMMIT = {commit!r}\nGO_VERSION = {rel['go']!r}\n"
        f"CONTAINERD_MAJOR = {major}\nCONTAINERD_VERSION = {rel['containerd']!r}\n"
    ).encode()


def zipapp(rel: dict, srcs: list[tuple[str, bytes]]) -> bytes:
    digest = hashlib.sha1(rel["version"].encode())  # noqa: S324 - a git-like commit id, not security
    for path, data in srcs:
        digest.update(path.encode() + data)
    commit = digest.hexdigest()
    buf = io.BytesIO()
    buf.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in srcs:
            if path == os.path.join("k3srt", "buildinfo.py"):
                data = buildinfo(rel, commit)
            if path == os.path.join("k3srt", "__main__.py"):
                zf.writestr(zipfile.ZipInfo("__main__.py", EPOCH), data)
            zf.writestr(zipfile.ZipInfo(path, EPOCH), data)
    return buf.getvalue()


def airgap_images(rel: dict) -> bytes:
    """A docker-archive-shaped tarball naming the images; the test runtime does not run containers."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        manifest = json.dumps([{"Config": "", "RepoTags": list(IMAGES), "Layers": []}]).encode()
        note = f"k3s test runtime {rel['version']}: image list only, no layers\n".encode()
        for name, data in (("manifest.json", manifest), ("README.k3srt", note)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1577836800
            tf.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=1577836800) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def write_if_changed(path: str, data: bytes, mode: int) -> None:
    try:
        with open(path, "rb") as fh:
            if fh.read() == data:
                return
    except FileNotFoundError:
        pass
    with open(path, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", nargs="*")
    ns = ap.parse_args()
    with open(os.path.join(HERE, "releases.yml"), encoding="utf-8") as fh:
        releases = yaml.safe_load(fh)
    srcs = sources()
    for rel in releases:
        if ns.only and rel["version"] not in ns.only:
            continue
        vdir = os.path.join(ns.out, rel["version"])
        os.makedirs(vdir, exist_ok=True)
        assets = {"k3s": zipapp(rel, srcs), "k3s-airgap-images-amd64.tar.gz": airgap_images(rel)}
        lines = []
        for name, data in assets.items():
            write_if_changed(os.path.join(vdir, name), data, 0o755 if name == "k3s" else 0o644)
            lines.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
        write_if_changed(os.path.join(vdir, "sha256sum-amd64.txt"), "".join(lines).encode(), 0o644)
        write_if_changed(os.path.join(vdir, "k3s-images.txt"), "".join(i + "\n" for i in IMAGES).encode(), 0o644)
        print(f"built {rel['version']} -> {vdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

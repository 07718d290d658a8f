"""Auto-deploying manifests (``server/manifests``): like k3s' deploy controller.

Every ``*.yaml``, ``*.yml`` and ``*.json`` below the directory (recursively, sorted) is applied unless a sibling
``<file>.skip`` exists. Each file is recorded as an ``Addon`` (``k3s.cattle.io/v1``, namespace ``kube-system``,
named after the file without its extension) whose ``spec.checksum`` is the sha256 of the file; a file whose Addon
already carries the same checksum is not applied again. Objects without a namespace land in ``kube-system`` (the
Addon's namespace, as k3s' apply does). Kinds this runtime does not serve are skipped with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os

import yaml

from ..web import HTTPError
from . import resources

ADDONS = resources.get("addons", "k3s.cattle.io")
EXTENSIONS = (".yaml", ".yml", ".json")
OBJECTS_ANNOTATION = "k3srt.test/objects"  # what the Addon created: [[apiVersion, kind, namespace, name], ...]


def manifest_files(directory: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if name.endswith(EXTENSIONS) and not os.path.exists(path + ".skip"):
                found.append(path)
    return found


def addon_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def load_documents(path: str, data: bytes) -> list[dict]:
    if path.endswith(".json"):
        doc = json.loads(data)
        docs = doc if isinstance(doc, list) else [doc]
    else:
        docs = list(yaml.safe_load_all(data))
    out = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            out.extend(i for i in doc["items"] if isinstance(i, dict))
        elif isinstance(doc, dict) and doc:
            out.append(doc)
    return out


def deploy(api, directory: str) -> list[str]:
    """Apply changed files; returns the Addon names (re)applied in this pass."""
    if not os.path.isdir(directory):
        return []
    applied = []
    for path in manifest_files(directory):
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            api.log(f"Failed to read manifest {path}: {exc}", "error")
            continue
        checksum = hashlib.sha256(data).hexdigest()
        name = addon_name(path)
        addon = api.store.find(ADDONS, "kube-system", name)
        if addon and (addon.get("spec") or {}).get("checksum") == checksum:
            continue
        try:
            docs = load_documents(path, data)
        except (ValueError, yaml.YAMLError) as exc:
            api.log(f"Failed to parse manifest {path}: {exc}", "error")
            continue
        gvks, refs = [], []
        for doc in docs:
            res = resources.by_kind(doc.get("apiVersion", ""), doc.get("kind", ""))
            if res is None:
                api.log(f"Skipping {doc.get('apiVersion')}/{doc.get('kind')} in {path}: kind not served", "warning")
                continue
            try:
                obj = api.apply_object(res, doc, default_namespace="kube-system")
                gvk = {"group": res.group, "version": res.version, "kind": res.kind}
                if gvk not in gvks:
                    gvks.append(gvk)
                refs.append([res.api_version, res.kind, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]])
            except HTTPError as exc:
                api.log(f"Failed to apply {res.kind} from {path}: {exc.message}", "error")
        _record_addon(api, name, path, checksum, gvks, refs)
        api.log(f"Applied manifest {path} as addon kube-system/{name}")
        applied.append(name)
    return applied


def _record_addon(api, name: str, path: str, checksum: str, gvks: list[dict], refs: list) -> None:
    body = {
        "apiVersion": ADDONS.api_version,
        "kind": ADDONS.kind,
        "metadata": {"name": name, "namespace": "kube-system", "annotations": {OBJECTS_ANNOTATION: json.dumps(refs)}},
        "spec": {"source": path, "checksum": checksum},
        "status": {"gvks": gvks},
    }
    api.apply_object(ADDONS, body, default_namespace="kube-system")


def remove_addon(api, name: str) -> bool:
    """Delete an Addon and the objects it applied (k3s does this for ``--disable``d components)."""
    addon = api.store.find(ADDONS, "kube-system", name)
    if addon is None:
        return False
    refs = json.loads(((addon["metadata"].get("annotations") or {}).get(OBJECTS_ANNOTATION)) or "[]")
    for api_version, kind, namespace, obj_name in refs:
        res = resources.by_kind(api_version, kind)
        if res is not None and res.plural != "namespaces":
            with contextlib.suppress(HTTPError):
                api.store.delete(res, namespace or None, obj_name)
    with contextlib.suppress(HTTPError):
        api.store.delete(ADDONS, "kube-system", name)
    return True

"""The resource types this API subset serves (what discovery lists and the router accepts)."""

from __future__ import annotations

from dataclasses import dataclass

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status" (get/patch/update) and "eviction" (pods, create)
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"/registry/{self.plural}/{namespace}/{name}"
        return f"/registry/{self.plural}/{name}"

    def prefix(self, namespace: str | None = None) -> str:
        if self.namespaced and namespace:
            return f"/registry/{self.plural}/{namespace}/"
        return f"/registry/{self.plural}/"


def _r(group, version, plural, kind, namespaced, short=(), sub=(), cat=()):
    return Resource(group, version, plural, kind, namespaced, tuple(short), tuple(sub), tuple(cat))


ALL = "all"
RESOURCES: tuple[Resource, ...] = (
    _r("", "v1", "namespaces", "Namespace", False, ["ns"], ["status", "finalize"]),
    _r("", "v1", "nodes", "Node", False, ["no"], ["status"]),
    _r("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    _r("", "v1", "secrets", "Secret", True),
    _r("", "v1", "pods", "Pod", True, ["po"], ["status", "eviction"], [ALL]),
    _r("", "v1", "services", "Service", True, ["svc"], ["status"], [ALL]),
    _r("", "v1", "endpoints", "Endpoints", True, ["ep"]),
    _r("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    _r("", "v1", "events", "Event", True, ["ev"]),
    _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"], ["status"]),
    _r("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False),
    _r("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], ["status"], [ALL]),
    _r("apps", "v1", "deployments", "Deployment", True, ["deploy"], ["status"], [ALL]),
    _r("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], ["status"], [ALL]),
    _r("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], ["status"], [ALL]),
    _r("batch", "v1", "jobs", "Job", True, [], ["status"], [ALL]),
    _r("coordination.k8s.io", "v1", "leases", "Lease", True),
    _r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"], ["status"]),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _r("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ["sc"]),
    _r("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, [], ["status"]),
    _r("k3s.cattle.io", "v1", "addons", "Addon", True),
    _r("k3s.cattle.io", "v1", "etcdsnapshotfiles", "ETCDSnapshotFile", False, [], ["status"]),
    _r("helm.cattle.io", "v1", "helmcharts", "HelmChart", True, [], ["status"]),
    _r("helm.cattle.io", "v1", "helmchartconfigs", "HelmChartConfig", True),
)

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}


def lookup(group: str, version: str, plural: str) -> Resource | None:
    return _BY_PATH.get((group, version, plural))


def by_kind(api_version: str, kind: str) -> Resource | None:
    return _BY_KIND.get((api_version, kind))


def get(plural: str, group: str = "") -> Resource:
    for r in RESOURCES:
        if r.plural == plural and r.group == group:
            return r
    raise KeyError(plural)


def groups() -> dict[str, list[str]]:
    """Non-core API groups and their versions, in a stable order."""
    out: dict[str, list[str]] = {}
    for r in RESOURCES:
        if r.group and r.version not in out.setdefault(r.group, []):
            out[r.group].append(r.version)
    return out

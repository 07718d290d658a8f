"""Authorization, reduced to the identities k3s hands out.

* no identity → 401;
* ``system:masters`` (admin kubeconfig) → everything;
* ``system:nodes`` (kubelet client cert, user ``system:node:<name>``) → discovery and health, get/list/watch of nodes
  and runtimeclasses, create/get/update/patch of its own Node and its ``status``, its own Lease in
  ``kube-node-lease``, and creating/patching events;
* anyone else (``system:bootstrappers``, ``k3s:agent``, ``k3s:server`` basic auth …) → 403 on every API path.
"""

from __future__ import annotations

from . import errors

READ = ("get", "list", "watch")


def check_path(identity, verb: str, path: str) -> None:
    """Non-resource paths: discovery, /version, health, openapi."""
    if identity is None:
        raise errors.unauthorized()
    if identity.in_any("system:masters", "system:nodes"):
        return
    raise errors.forbidden_path(identity.user, verb, path)


def _node_allows(node: str, verb: str, res, namespace: str | None, name: str | None, sub: str | None) -> bool:
    if res.plural == "nodes":
        if verb in READ and sub is None:
            return True
        return verb in ("get", "update", "patch", "create") and name == node and sub in (None, "status")
    if res.plural == "runtimeclasses":
        return verb in READ
    if res.plural == "leases":
        return namespace == "kube-node-lease" and name == node
    if res.plural == "events":
        return verb in ("create", "patch", "update")
    return False


def check(identity, verb: str, res, namespace: str | None, name: str | None, sub: str | None) -> None:
    if identity is None:
        raise errors.unauthorized()
    if identity.in_any("system:masters"):
        return
    if identity.in_any("system:nodes") and identity.user.startswith("system:node:"):
        node = identity.user[len("system:node:") :]
        if _node_allows(node, verb, res, namespace, name, sub):
            return
    what = f"{res.plural}/{sub}" if sub else res.plural
    raise errors.forbidden(identity.user, verb, what, res.group, name, namespace)

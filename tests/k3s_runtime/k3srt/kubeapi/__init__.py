"""Kubernetes API subset of the k3s test runtime: objects in the datastore KV, discovery, tables for kubectl,
patches, watch, node status and lifecycle, manifests auto-deploy and the lab GPU capacity simulation.

Entry point: ``KubeAPI(ctx)`` (uses ``ctx.kv``; see docs/dev/architecture.md). Notes for the listener and the agent:

* ``handle(request)`` expects ``request.identity`` from the client certificate (``CN`` → user, every ``O`` →
  groups) or basic auth; ``None`` gets 401. Paths are without the query string; headers lower-case.
* A watch (``?watch=true``) returns ``Response(200, <generator of bytes>, "application/json")``: write it with
  ``Transfer-Encoding: chunked``, one chunk per non-empty item, flush after each, skip empty items (they are idle
  ticks), then the terminating chunk; on a write error call ``body.close()``.
* Agents register with their kubelet certificate: ``POST /api/v1/nodes`` with ``nodes.node_object(...)``; on 409
  ``PATCH /api/v1/nodes/<name>`` (strategic merge) with the labels/annotations; every 10 s
  ``PATCH /api/v1/nodes/<name>/status`` with ``nodes.heartbeat_patch()`` as
  ``application/strategic-merge-patch+json``. GPU agents add label ``k3srt.test/nvidia-runtime=true`` and
  annotation ``k3srt.test/gpu-count=<n>`` (see ``nodes``).
* ``ctx.on_node_deleted(name)`` (optional) is called when a Node labelled ``node-role.kubernetes.io/etcd=true`` is
  deleted. Other runtime parts holding only a KV use ``inproc`` (e.g. ``ETCDSnapshotFile`` objects).
"""

from .api import KubeAPI

__all__ = ["KubeAPI"]

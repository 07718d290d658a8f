"""Kubernetes API subset of the k3s test runtime: objects in the datastore KV, discovery, tables for kubectl,
patches, watch, node status and lifecycle, manifests auto-deploy and the lab GPU capacity simulation.

Entry point: ``KubeAPI(ctx)`` (see ``api.py`` and docs/dev/architecture.md).
"""

from .api import KubeAPI

__all__ = ["KubeAPI"]

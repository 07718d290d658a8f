"""Request routing: which resource, namespace, name and subresource a path addresses."""

from __future__ import annotations

from dataclasses import dataclass

from . import errors, resources


@dataclass
class Target:
    res: resources.Resource
    namespace: str | None
    name: str | None
    sub: str | None
    watch: bool


def path_verb(method: str) -> str:
    return {"GET": "get", "HEAD": "get", "POST": "post", "PUT": "put", "PATCH": "patch", "DELETE": "delete"}.get(
        method, method.lower()
    )


def parse_target(group: str, version: str, rest: list[str]) -> Target:
    is_watch = False
    if rest and rest[0] == "watch":
        is_watch, rest = True, rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        inner = resources.lookup(group, version, rest[2])
        if inner is not None and inner.namespaced:
            namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise errors.path_not_found()
    res = resources.lookup(group, version, rest[0])
    if res is None:
        raise errors.path_not_found()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if res.namespaced and namespace is None and name is not None:
        raise errors.path_not_found()
    if sub is not None and sub not in res.subresources:
        raise errors.path_not_found()
    return Target(res, namespace, name, sub, is_watch)

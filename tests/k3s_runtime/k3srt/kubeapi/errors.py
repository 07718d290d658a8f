"""Kubernetes-style API errors (rendered by ``HTTPError`` as a ``Status`` object)."""

from __future__ import annotations

from ..web import HTTPError


def _qualified(res) -> str:
    return f"{res.plural}.{res.group}" if res.group else res.plural


def _details(res, name: str | None) -> dict:
    details = {"kind": res.plural}
    if name:
        details["name"] = name
    if res.group:
        details["group"] = res.group
    return details


def not_found(res, name: str) -> HTTPError:
    return HTTPError(404, "NotFound", f'{_qualified(res)} "{name}" not found', _details(res, name))


def already_exists(res, name: str) -> HTTPError:
    return HTTPError(409, "AlreadyExists", f'{_qualified(res)} "{name}" already exists', _details(res, name))


def conflict(res, name: str) -> HTTPError:
    msg = (
        f'Operation cannot be fulfilled on {_qualified(res)} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return HTTPError(409, "Conflict", msg, _details(res, name))


def forbidden(user: str, verb: str, what: str, group: str, name: str | None, namespace: str | None) -> HTTPError:
    subject = f'{what} "{name}"' if name else what
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    base = what.split("/")[0]
    msg = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{what}" in API group "{group}" {scope}'
        if base
        else f'forbidden: User "{user}" cannot {verb} path'
    )
    details = {"kind": base, "name": name} if name else {"kind": base}
    if group:
        details["group"] = group
    return HTTPError(403, "Forbidden", msg, details)


def forbidden_path(user: str, verb: str, path: str) -> HTTPError:
    return HTTPError(403, "Forbidden", f'forbidden: User "{user}" cannot {verb} path "{path}"')


def unauthorized() -> HTTPError:
    return HTTPError(401, "Unauthorized", "Unauthorized")


def bad_request(message: str) -> HTTPError:
    return HTTPError(400, "BadRequest", message)


def invalid(res, name: str, message: str) -> HTTPError:
    kind = res.kind if res else "Object"
    return HTTPError(422, "Invalid", f'{kind} "{name}" is invalid: {message}', _details(res, name) if res else None)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> HTTPError:
    return HTTPError(405, "MethodNotAllowed", message)


def path_not_found() -> HTTPError:
    return HTTPError(404, "NotFound", "the server could not find the requested resource")


def unsupported_media(ctype: str) -> HTTPError:
    return HTTPError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media "
        f"types include: application/json-patch+json, application/merge-patch+json, "
        f'application/strategic-merge-patch+json (got "{ctype}")',
    )

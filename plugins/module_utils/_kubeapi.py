# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""A small Kubernetes API (and k3s supervisor) client built on ansible.module_utils.urls.

No dependency on the ``kubernetes`` Python package: edge hosts run modules with what ansible-core ships.
Credentials embedded in a kubeconfig are written to 0600 files in a private temporary directory that
:meth:`KubeClient.close` removes (use the client as a context manager).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
import traceback
from urllib.error import HTTPError
from urllib.parse import quote, urlencode

from ansible.module_utils.urls import open_url

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised only on hosts without PyYAML
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

DEFAULT_KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
DEFAULT_TIMEOUT = 10
MERGE_PATCH = "application/merge-patch+json"


class KubeAPIError(Exception):
    """An API call failed. ``status`` is the HTTP status (None for connection/TLS errors)."""

    def __init__(self, message, status=None, reason=None, body=None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.body = body


def resource_path(api_version, plural, name=None, namespace=None, subresource=None):
    """URL path of a resource: ``v1`` → ``/api/v1``, ``group/version`` → ``/apis/group/version``."""
    base = "/api/%s" % api_version if "/" not in api_version else "/apis/%s" % api_version
    parts = [base]
    if namespace:
        parts.append("namespaces/%s" % quote(namespace, safe=""))
    parts.append(plural)
    if name:
        parts.append(quote(name, safe=""))
    if subresource:
        parts.append(subresource)
    return "/".join(parts)


def _load_kubeconfig(path):
    with open(path, "rb") as handle:
        text = handle.read().decode("utf-8")
    if HAS_YAML:
        return yaml.safe_load(text)
    try:  # a JSON kubeconfig is valid YAML; without PyYAML we can still read it
        return json.loads(text)
    except ValueError as exc:
        raise KubeAPIError("PyYAML is required to read the kubeconfig %s" % path) from exc


def _named(entries, name, what):
    for entry in entries or []:
        if entry.get("name") == name:
            return entry.get(what) or {}
    raise KubeAPIError("kubeconfig has no %s named %r" % (what, name))


class KubeClient:
    """Kubernetes API client.

    :param url: API server URL (``https://host:6443``).
    :param ca_file: CA bundle to verify the server with (None: host trust store).
    :param cert_file, key_file: client certificate and key (PEM files).
    :param bearer_token: ``Authorization: Bearer`` token.
    :param username, password: HTTP basic auth (k3s supervisor routes such as ``/db/info`` for ``server``).
    """

    def __init__(
        self,
        url,
        ca_file=None,
        cert_file=None,
        key_file=None,
        bearer_token=None,
        username=None,
        password=None,
        validate_certs=True,
        timeout=DEFAULT_TIMEOUT,
        opener=None,
    ):
        if not url:
            raise KubeAPIError("an API server URL is required")
        self.url = url.rstrip("/")
        self.ca_file = ca_file
        self.cert_file = cert_file
        self.key_file = key_file
        self.bearer_token = bearer_token
        self.username = username
        self.password = password
        self.validate_certs = validate_certs
        self.timeout = timeout
        self._opener = opener or open_url
        self._tmpdir = None

    # -- construction from a kubeconfig -------------------------------------------------------------------

    @classmethod
    def from_kubeconfig(cls, path=DEFAULT_KUBECONFIG, context=None, server=None, **kwargs):
        """Build a client from a kubeconfig file; ``server`` overrides the cluster URL (e.g. a node's address)."""
        try:
            config = _load_kubeconfig(path)
        except (OSError, ValueError) as exc:
            raise KubeAPIError("cannot read kubeconfig %s: %s" % (path, exc)) from exc
        if not isinstance(config, dict):
            raise KubeAPIError("kubeconfig %s is not a mapping" % path)
        context_name = context or config.get("current-context")
        if not context_name:
            raise KubeAPIError("kubeconfig %s has no current-context" % path)
        ctx = _named(config.get("contexts"), context_name, "context")
        cluster = _named(config.get("clusters"), ctx.get("cluster"), "cluster")
        user = _named(config.get("users"), ctx.get("user"), "user")

        client = cls(
            server or cluster.get("server"),
            validate_certs=not cluster.get("insecure-skip-tls-verify", False),
            bearer_token=user.get("token"),
            username=user.get("username"),
            password=user.get("password"),
            **kwargs,
        )
        try:
            base_dir = os.path.dirname(os.path.abspath(path))
            client.ca_file = client._material(cluster, "certificate-authority", base_dir)
            client.cert_file = client._material(user, "client-certificate", base_dir)
            client.key_file = client._material(user, "client-key", base_dir)
        except Exception:
            client.close()
            raise
        return client

    def _material(self, section, key, base_dir):
        """Path of a PEM item: ``<key>-data`` (base64) goes to a 0600 temp file; ``<key>`` is a path."""
        data = section.get(key + "-data")
        if data:
            try:
                raw = base64.b64decode(data, validate=True)
            except ValueError as exc:
                raise KubeAPIError("kubeconfig %s-data is not valid base64" % key) from exc
            return self._write_private(key + ".pem", raw)
        path = section.get(key)
        if path:
            return path if os.path.isabs(path) else os.path.join(base_dir, path)
        return None

    def _write_private(self, name, data):
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="edgefleet-kubeapi-")  # mode 0700
        path = os.path.join(self._tmpdir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return path

    def close(self):
        """Remove the temporary credential files (idempotent)."""
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- HTTP -------------------------------------------------------------------------------------------

    def request(self, method, path, body=None, content_type="application/json", query=None, raw=False):
        """Send a request; return the decoded JSON body (or bytes with ``raw``). Raise KubeAPIError on failure."""
        url = self.url + path
        if query:
            url += "?" + urlencode(sorted((k, v) for k, v in query.items() if v is not None))
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            headers["Content-Type"] = content_type
        if self.bearer_token:
            headers["Authorization"] = "Bearer %s" % self.bearer_token
        kwargs = {}
        if self.username is not None and self.password is not None:
            kwargs.update(url_username=self.username, url_password=self.password, force_basic_auth=True)
        try:
            response = self._opener(
                url,
                data=data,
                headers=headers,
                method=method,
                timeout=self.timeout,
                validate_certs=self.validate_certs,
                ca_path=self.ca_file,
                client_cert=self.cert_file,
                client_key=self.key_file,
                use_netrc=False,
                **kwargs,
            )
            try:
                payload = response.read()
            finally:
                response.close()
        except HTTPError as exc:
            raise self._http_error(method, path, exc) from exc
        except Exception as exc:  # noqa: BLE001 - URLError, SSL errors, timeouts
            raise KubeAPIError("%s %s failed: %s" % (method, path, exc)) from exc
        if raw:
            return payload
        if not payload:
            return None
        try:
            return json.loads(payload.decode("utf-8"))
        except ValueError as exc:
            raise KubeAPIError("%s %s returned a body that is not JSON" % (method, path)) from exc

    @staticmethod
    def _http_error(method, path, exc):
        try:
            body = exc.read()
        except Exception:  # noqa: BLE001
            body = b""
        reason = message = None
        try:
            status = json.loads(body.decode("utf-8"))
            if isinstance(status, dict):
                reason = status.get("reason")
                message = status.get("message")
        except ValueError:
            pass
        text = message or body.decode("utf-8", "replace").strip() or str(exc.reason)
        return KubeAPIError("%s %s: HTTP %s: %s" % (method, path, exc.code, text), exc.code, reason, body)

    # -- verbs ------------------------------------------------------------------------------------------

    def get(self, path, missing_ok=False):
        """GET an object; with ``missing_ok`` a 404 returns None."""
        try:
            return self.request("GET", path)
        except KubeAPIError as exc:
            if missing_ok and exc.status == 404:
                return None
            raise

    def list(self, path, label_selector=None, field_selector=None):
        """GET a collection and return its ``items``."""
        result = self.request("GET", path, query={"labelSelector": label_selector, "fieldSelector": field_selector})
        return (result or {}).get("items") or []

    def patch(self, path, patch):
        """JSON merge-patch (RFC 7386) an object; return the patched object."""
        return self.request("PATCH", path, body=patch, content_type=MERGE_PATCH)

    def delete(self, path, missing_ok=True):
        """DELETE an object; return True if it was deleted, False if it did not exist (with ``missing_ok``)."""
        try:
            self.request("DELETE", path)
        except KubeAPIError as exc:
            if missing_ok and exc.status == 404:
                return False
            raise
        return True

    # -- helpers used by the modules ----------------------------------------------------------------------

    def nodes(self, label_selector=None):
        """All Node objects."""
        return self.list(resource_path("v1", "nodes"), label_selector=label_selector)

    def etcd_members(self):
        """Embedded etcd members from the k3s supervisor's ``/db/info``.

        Loopback clients need no credentials; remote ones need basic auth ``server:<password>``.
        Each member is a dict with ``ID``, ``name``, ``peerURLs``, ``clientURLs`` and ``isLearner`` (always set).
        """
        info = self.request("GET", "/db/info") or {}
        members = []
        for member in info.get("members") or []:
            entry = dict(member)
            entry["isLearner"] = bool(member.get("isLearner", False))
            members.append(entry)
        return members

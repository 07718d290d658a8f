"""Small HTTPS client for nodes talking to a server's supervisor (token validation, bootstrap, certs)."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request

from . import tokens

TIMEOUT = 10.0


class ClientError(Exception):
    def __init__(self, message: str, status: int = 0, body: bytes = b"", reason: str = ""):
        super().__init__(message)
        self.status = status
        self.body = body
        self.reason = reason


def context(ca_pem: bytes | None = None, insecure: bool = False, cert: tuple[str, str] | None = None):
    if insecure:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_pem is not None:
        # Go's TLS client trusts only the pinned bundle and still checks the URL's host against the certificate's
        # SANs (clientaccess.GetHTTPClient builds a tls.Config with RootCAs and no InsecureSkipVerify).
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = True
        ctx.load_verify_locations(cadata=ca_pem.decode())
    else:
        ctx = ssl.create_default_context()
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


def request(
    url: str,
    ctx,
    method: str = "GET",
    user: str | None = None,
    password: str | None = None,
    bearer: str | None = None,
    headers: dict | None = None,
    body: bytes | dict | None = None,
    timeout: float = TIMEOUT,
) -> bytes:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method=method)
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    if isinstance(body, dict):
        req.add_header("Content-Type", "application/json")
    if user is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    elif bearer:
        req.add_header("Authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:  # noqa: S310
            return resp.read()
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        raise ClientError(_status_text(url, exc.code, exc.reason, payload), exc.code, payload, exc.reason) from None
    except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
        raise ClientError(f'{method.capitalize()} "{url}": {getattr(exc, "reason", exc)}') from None


def _status_text(url: str, code: int, reason: str, payload: bytes) -> str:
    """clientaccess readBody: a Kubernetes Status body gives its message, anything else "<url>: <code> <text>"."""
    try:
        doc = json.loads(payload)
        if isinstance(doc, dict) and doc.get("kind") == "Status":
            return str(doc.get("message", ""))
    except ValueError:
        pass
    return f"{url}: {code} {reason}"


class ValidatedServer:
    """A server whose CA was validated against the token (K3S_BEHAVIOUR §4 'Validation by a joining node')."""

    def __init__(self, url: str, token: tokens.Token, username: str, log, local_ca: bytes | None = None):
        if not url.startswith("https://"):
            raise ClientError(f"only https:// URLs are supported, invalid scheme: {url}")
        self.url = url.rstrip("/")
        self.token = token
        self.username = username
        self.ca_pem: bytes | None = None
        self._validate(log, local_ca)

    def _validate(self, log, local_ca: bytes | None) -> None:
        # WithCACertificate: a local CA file is used when the token has no hash or the hashes are equal.
        if local_ca is not None and (not self.token.ca_hash or tokens.hash_matches(local_ca, self.token.ca_hash)[0]):
            self.ca_pem = local_ca
            return
        try:
            request(self.url + "/cacerts", context())
            if self.token.ca_hash:
                log(
                    "Cluster CA certificate is trusted by the host CA bundle. Token CA hash will not be validated.",
                    "warning",
                )
            self.ca_pem = None
            return
        except ClientError:
            pass
        try:
            bundle = request(self.url + "/cacerts", context(insecure=True))
        except ClientError as exc:
            raise ClientError(f"failed to get CA certs: {exc}") from None
        try:
            request(self.url + "/cacerts", context(bundle))
        except ClientError as exc:
            raise ClientError(f"CA cert validation failed: {exc}") from None
        ok, got = tokens.hash_matches(bundle, self.token.ca_hash)
        if self.token.ca_hash and not ok:
            raise ClientError(
                f"token CA hash does not match the Cluster CA certificate hash: {self.token.ca_hash} != {got}"
            )
        if not self.token.ca_hash:
            log(
                "Cluster CA certificate is not trusted by the host CA bundle, but the token does not include a CA "
                "hash. Use the full token from the server's node-token file to enable Cluster CA validation.",
                "warning",
            )
        self.ca_pem = bundle

    def get(
        self, path: str, headers: dict | None = None, method: str = "GET", body=None, timeout: float = TIMEOUT
    ) -> bytes:
        ctx = context(self.ca_pem)
        url = self.url + path
        if self.token.bootstrap:
            return request(url, ctx, method, bearer=self.token.password, headers=headers, body=body, timeout=timeout)
        user, password = self.username, self.token.password
        return request(url, ctx, method, user, password, headers=headers, body=body, timeout=timeout)

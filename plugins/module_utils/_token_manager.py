# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""The work behind the edgefleet.k3s.k3s_token module (read, parse and validate a k3s token)."""

from __future__ import annotations

import os

from ansible_collections.edgefleet.k3s.plugins.module_utils._token import (
    TokenError,
    ca_hash,
    fetch_and_verify_cacerts,
    format_token,
    parse_token,
)

TOKEN_FILES = {"server": "token", "agent": "agent-token"}
DEFAULT_USERNAMES = {"server": "server", "agent": "node"}


class TokenManager:
    """Reads a token (file or parameter), validates it against the served cluster CA, returns facts about it.

    Never changes anything. ``run()`` returns the result dict; problems raise :class:`TokenError`.
    """

    def __init__(self, params, opener=None, warn=None):
        self.params = params
        self.opener = opener
        self.warn = warn or (lambda msg: None)

    def token_file_path(self):
        if self.params.get("token_file"):
            return self.params["token_file"]
        return os.path.join(self.params["data_dir"], "server", TOKEN_FILES[self.params["token_type"]])

    def read_token(self):
        """Return ``(text, path)``; ``path`` is None when the token came from the ``token`` parameter."""
        if self.params.get("token") is not None:
            return self.params["token"].strip(), None
        path = self.token_file_path()
        try:
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8")
        except FileNotFoundError as exc:
            raise TokenError(
                "token file %s does not exist (has k3s server started on this host?)" % path, reason="missing"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenError("cannot read token file %s: %s" % (path, exc)) from exc
        return text.strip(), path

    def local_ca_hash(self):
        path = os.path.join(self.params["data_dir"], "server", "tls", "server-ca.crt")
        try:
            with open(path, "rb") as handle:
                return ca_hash(handle.read())[0]
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenError("cannot read %s: %s" % (path, exc)) from exc

    def run(self):
        text, path = self.read_token()
        token = parse_token(text)
        result = {
            "changed": False,
            "token_file": path,
            "token_kind": token.kind,
            "credential_type": token.credential_type,
            "username": token.username if token.credential_type == "password" else None,
            "server_url": None,
            "ca_verified": False,
            "ca_trusted_by_host": False,
        }

        if self.params["verify_ca"]:
            validation = fetch_and_verify_cacerts(
                self.params["server_url"],
                token.ca_hash,
                timeout=self.params["timeout"],
                opener=self.opener,
            )
            for warning in validation.warnings:
                self.warn(warning)
            result["server_url"] = self.params["server_url"]
            result["ca_trusted_by_host"] = validation.host_trusted
            # True only when the token's own hash was compared with (and matched) the served CA.
            result["ca_verified"] = bool(token.ca_hash) and not validation.host_trusted
            hash_value = token.ca_hash or validation.server_hash
        else:
            hash_value = token.ca_hash or self.local_ca_hash()
            if not hash_value:
                raise TokenError(
                    "the token has no CA hash, verify_ca is false and there is no local server CA "
                    "(%s/server/tls/server-ca.crt) to build the full token from" % self.params["data_dir"]
                )

        result["ca_hash"] = hash_value
        if path is not None:
            # A token passed as the (no_log) parameter would come back masked by Ansible; it is only
            # returned when it was read from a file.
            result["token"] = format_token(hash_value, token, DEFAULT_USERNAMES[self.params["token_type"]])
        return result

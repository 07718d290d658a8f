#!/usr/bin/python
# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k3s_token
short_description: Read a k3s join token and validate it against the cluster CA
version_added: 0.1.0
description:
  - Reads the k3s server token (V(server)) or agent token (V(agent)) from the server's data directory,
    or a token file or token you supply, and parses it the way k3s does.
  - Validates it the way a joining k3s node does before it sends any credential. It downloads C(/cacerts) from
    O(server_url) without TLS verification, checks that the server's certificate chains to that bundle, then
    compares the CA hash embedded in the token with the hash of the bundle.
  - For a short token (a bare password or a bootstrap token) the module builds the full token
    C(K10<ca-hash>::<credentials>) from the served CA hash.
  - The module only reads. It never changes the host or the cluster.
  - "Set C(no_log: true) on the task. The returned RV(token) is a secret."
author:
  - edgefleet.k3s maintainers (@edgefleet)
options:
  data_dir:
    description:
      - The k3s data directory (C(--data-dir)) on the server.
      - The module reads C(<data_dir>/server/token) for O(token_type=server)
        and C(<data_dir>/server/agent-token) for O(token_type=agent).
    type: path
    default: /var/lib/rancher/k3s
  token_type:
    description:
      - Which token file to read when neither O(token) nor O(token_file) is set.
      - Also sets the username of the full token built from a short password token.
        V(server) uses C(server) and V(agent) uses C(node), as k3s writes them.
    type: str
    choices: [server, agent]
    default: server
  token_file:
    description:
      - Read the token from this file instead of the file in O(data_dir).
      - For example the file given to k3s as C(token-file).
    type: path
  token:
    description:
      - A token to validate instead of reading a file. It can be full or short.
      - Ansible masks every returned value that contains a C(no_log) parameter.
        So when you set this option, the module does not return RV(token).
        Build the full token from RV(ca_hash) instead.
    type: str
  server_url:
    description:
      - The C(https://) URL of a k3s server (supervisor port). The module checks its C(/cacerts).
      - Only C(https://) URLs are accepted. Trailing slashes are removed.
      - The server certificate must be valid for the host name or IP address in the URL.
        By default k3s signs it for its node addresses, C(localhost), C(127.0.0.1) and each C(--tls-san).
    type: str
    default: https://127.0.0.1:6443
  verify_ca:
    description:
      - Check the token against the CA that O(server_url) serves.
      - If V(false), the module makes no network request. The CA hash comes from the token itself.
        If the token has no CA hash, the module hashes C(<data_dir>/server/tls/server-ca.crt) on this host.
    type: bool
    default: true
  timeout:
    description: Timeout in seconds for each HTTP request.
    type: int
    default: 10
notes:
  - If the host CA bundle already trusts the cluster CA, k3s does not check the token's CA hash, and neither does
    this module. It warns, returns RV(ca_trusted_by_host=true) and returns RV(ca_verified=false).
  - A multi-certificate CA bundle is hashed over the DER of the chain's root certificate, as k3s does.
    This needs the Python C(cryptography) library on the target. Without it, the module hashes the raw bytes.
    k3s also hashes the raw bytes when the chain does not verify.
extends_documentation_fragment:
  - edgefleet.k3s._attributes
  - edgefleet.k3s._attributes.READ_ONLY
  - edgefleet.k3s._attributes.ACTION_GROUP
seealso:
  - name: k3s token documentation
    description: Token formats, and how joining nodes validate the cluster CA.
    link: https://docs.k3s.io/cli/token
  - module: ansible.builtin.slurp
    description: Reads a remote file without validating it.
"""

EXAMPLES = r"""
- name: Read and validate the server token on the first server
  edgefleet.k3s.k3s_token:
  register: k3s_server_token
  no_log: true

- name: Read the agent token and check it against the API endpoint behind the load balancer
  edgefleet.k3s.k3s_token:
    token_type: agent
    server_url: "https://{{ k3s_api_endpoint }}:6443"
  register: k3s_agent_token
  no_log: true

- name: Build the full token from a short token kept in a 0600 file
  edgefleet.k3s.k3s_token:
    token_file: /etc/rancher/k3s/cluster-token
    server_url: https://10.0.0.20:6443
  register: k3s_full_token
  no_log: true

- name: Fail early when the configured token belongs to another cluster
  edgefleet.k3s.k3s_token:
    token: "{{ k3s_token }}"
    server_url: "https://{{ k3s_api_endpoint }}:6443"
  no_log: true

- name: Set the server URL once for every module of the collection
  module_defaults:
    group/edgefleet.k3s.k3s:
      server_url: https://10.0.0.10:6443
  block:
    - name: Validate the server token
      edgefleet.k3s.k3s_token:
      no_log: true
"""

RETURN = r"""
token:
  description:
    - The full token C(K10<ca_hash>::<credentials>). This is a secret.
    - Not returned when O(token) is set, because Ansible would mask it.
  returned: when the token was read from a file
  type: str
  sample: K10abc0000000000000000000000000000000000000000000000000000000000::server:0123456789abcdef
ca_hash:
  description:
    - The SHA-256 of the cluster CA, as embedded in full tokens.
    - If the token has a CA hash, this is that hash. Otherwise it is the hash of the CA served by O(server_url),
      or of the local CA when O(verify_ca=false).
  returned: success
  type: str
  sample: 9a2a8e0c8a7d1f3f5b1c7a2cfa5d3a1e4c8b0d2f6a7e9c1b3d5f7a9c0e2b4d6f8
token_kind:
  description:
    - The form of the token that was read or given.
    - V(full) is C(K10<hash>::<credentials>), V(short) a bare password,
      V(bootstrap) a short bootstrap token C(<id>.<secret>).
  returned: success
  type: str
  choices: [full, short, bootstrap]
  sample: full
credential_type:
  description: V(password) for C(<user>:<password>) credentials, V(bootstrap) for a bootstrap token.
  returned: success
  type: str
  choices: [password, bootstrap]
  sample: password
username:
  description:
    - The username in the token. It is empty for a short password token, and null for bootstrap tokens.
    - k3s ignores it. Agents always log in as C(node), and servers as C(server).
  returned: success
  type: str
  sample: server
token_file:
  description: The file the token was read from. It is null when O(token) is set.
  returned: success
  type: str
  sample: /var/lib/rancher/k3s/server/token
server_url:
  description: The URL whose C(/cacerts) was checked. It is null when O(verify_ca=false).
  returned: success
  type: str
  sample: https://127.0.0.1:6443
ca_verified:
  description: Whether the token's own CA hash was compared with the CA served by O(server_url) and matched it.
  returned: success
  type: bool
  sample: true
reason:
  description:
    - Only on failure, what kind of failure it is. V(unreachable) means the server could not be asked, so a token
      kept earlier may still be right. V(missing) means the token file does not exist. V(invalid) means the token
      or the CA is wrong, for example a CA hash that does not match the cluster.
  returned: failure
  type: str
  choices: [unreachable, missing, invalid]
  sample: unreachable
ca_trusted_by_host:
  description: Whether the host CA bundle already trusts the served CA. If so, k3s skips the hash check.
  returned: success
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.edgefleet.k3s.plugins.module_utils._token import TokenError  # noqa: E402
from ansible_collections.edgefleet.k3s.plugins.module_utils._token_manager import TokenManager  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec={
            "data_dir": {"type": "path", "default": "/var/lib/rancher/k3s"},
            "token_type": {"type": "str", "choices": ["server", "agent"], "default": "server"},
            "token_file": {"type": "path"},
            "token": {"type": "str", "no_log": True},
            "server_url": {"type": "str", "default": "https://127.0.0.1:6443"},
            "verify_ca": {"type": "bool", "default": True},
            "timeout": {"type": "int", "default": 10},
        },
        mutually_exclusive=[("token", "token_file")],
        supports_check_mode=True,
    )
    try:
        result = TokenManager(module.params, warn=module.warn).run()
    except TokenError as exc:
        module.fail_json(msg=str(exc), reason=exc.reason)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters behind the node flow's decisions, the validation and the restore checks (logic in module_utils/_plan.py,
_validate.py and _restore.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.edgefleet.k3s.plugins.module_utils._plan import PlanError, server_plan, token_choice
from ansible_collections.edgefleet.k3s.plugins.module_utils._restore import restore_plan
from ansible_collections.edgefleet.k3s.plugins.module_utils._validate import host_problems


def _probe_row(name, probe):
    """A server's row for server_plan() from its edgefleet.k3s.k3s_node_info result (None: not probed)."""
    if not isinstance(probe, dict) or probe.get("failed") or "node" not in probe:
        return {"name": name, "probed": False}
    node = probe["node"]
    return {
        "name": name,
        "probed": True,
        "etcd_data": bool(node.get("etcd_data")),
        "config_joins": bool(node.get("config_joins")),
        "running": bool((probe.get("service") or {}).get("running")),
        "agent_token_file": bool(node.get("agent_token_file")),
    }


def k3s_server_plan(hostvars, servers, datastore, others=None, fact="__k3s_node"):
    """Plan the servers from their probes (see _plan.server_plan).

    A server of this play has its probe in ``hostvars[<server>][fact]``; ``others`` is the registered loop result of
    the same probe delegated to the servers outside the play (``--limit``).
    """
    outside = {}
    for result in (others or {}).get("results") or []:
        if isinstance(result, dict) and "item" in result and not result.get("skipped"):
            outside[result["item"]] = result
    rows = []
    for name in servers:
        probe = outside.get(name)
        if probe is None and name in hostvars:
            probe = hostvars[name].get(fact)
        rows.append(_probe_row(name, probe))
    try:
        return server_plan(rows, datastore)
    except PlanError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def k3s_token_choice(read, configured, has_file, node, check_mode=False, username=None):
    """The token a node writes (see _plan.token_choice)."""
    try:
        return token_choice(
            read if isinstance(read, dict) else None,
            configured or "",
            bool(has_file),
            node,
            check_mode=bool(check_mode),
            username=username or None,
        )
    except PlanError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def k3s_host_problems(variables):
    """The problems of one k3s node's variables (see _validate.host_problems)."""
    return host_problems(dict(variables))


def k3s_restore_plan(name, manifest_text, checksums, backup_token, hostvars, servers, current_token="", fact="probe"):
    """What restore.yml may do with a backup (see _restore.restore_plan); ``hostvars[<server>][fact]`` is each
    server's edgefleet.k3s.k3s_node_info result."""
    rows = []
    for server in servers:
        probe = hostvars[server].get(fact) if server in hostvars else None
        if not isinstance(probe, dict) or probe.get("failed") or "node" not in probe:
            raise AnsibleFilterError("%s was not probed; every server must answer before a restore" % server)
        rows.append(
            {
                "name": server,
                "etcd_data": bool(probe["node"].get("etcd_data")),
                "sqlite_data": bool(probe["node"].get("sqlite_data")),
            }
        )
    return restore_plan(
        str(name), manifest_text or "", dict(checksums or {}), backup_token or "", rows, current_token or ""
    )


class FilterModule:
    def filters(self):
        return {
            "k3s_server_plan": k3s_server_plan,
            "k3s_token_choice": k3s_token_choice,
            "k3s_host_problems": k3s_host_problems,
            "k3s_restore_plan": k3s_restore_plan,
        }

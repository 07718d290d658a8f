# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""Decisions of the node flow, as small pure functions (unit-tested; called from the collection's filters).

* :func:`server_plan` - how each server starts (cluster-init, join or standalone) and which server hands out the
  token, from what the probes found on every server.
* :func:`token_choice` - what a node writes to its token file, from the token read on the source server, the
  variable and what the node already holds.
"""

from __future__ import annotations


class PlanError(Exception):
    """The inventory and the hosts do not allow a safe decision; the message says what to do."""


def server_plan(servers, datastore):
    """Plan the servers of one cluster.

    :param servers: ordered like the inventory group; each a dict with ``name`` and, when the host was probed,
        ``probed: True``, ``etcd_data``, ``config_joins`` (config.yaml names a server), ``running`` and
        ``agent_token_file`` (the agent password file the roles write).
    :param datastore: ``etcd`` (embedded), ``sqlite`` or ``external``.
    :returns: dict ``source`` (server every other node reads the token from), ``bootstrap`` (server that must be
        started before the others can read the token, or None), ``modes`` (name → init | join | standalone) and
        ``agent_token_holder`` (a server that keeps the agent password, or None).
    :raises PlanError: when creating a cluster could split an existing one.
    """
    if not servers:
        raise PlanError("the inventory group k3s_servers is empty: at least one k3s server is required")
    names = [s["name"] for s in servers]
    first = servers[0]

    if datastore != "etcd":
        modes = dict.fromkeys(names, "standalone")
        source = first
    else:
        with_data = [s for s in servers if s.get("probed") and s.get("etcd_data")]
        unknown = [s["name"] for s in servers if not s.get("probed")]
        if first.get("etcd_data"):
            source = first
        elif with_data:
            # The first server was rebuilt while the others hold the cluster: it joins them, never a new cluster-init.
            source = with_data[0]
        elif unknown:
            raise PlanError(
                "%s has no etcd data and %s could not be checked for etcd data: starting with cluster-init could "
                "split the cluster. Bring those servers back (or remove them from k3s_servers) and run again."
                % (first["name"], ", ".join(unknown))
            )
        else:
            source = first
        modes = {}
        for server in servers:
            if server is not source:
                modes[server["name"]] = "join"
            elif server.get("etcd_data"):
                # A server keeps the mode it runs with: one that once joined keeps its server: line.
                modes[server["name"]] = "join" if server.get("config_joins") else "init"
            else:
                modes[server["name"]] = "init"

    bootstrap = None if source.get("running") else source["name"]
    # The agent password the servers share lives in a file the roles wrote on each of them; the first holder wins.
    holders = [s["name"] for s in servers if s.get("probed") and s.get("agent_token_file")]
    return {
        "source": source["name"],
        "bootstrap": bootstrap,
        "modes": modes,
        "agent_token_holder": holders[0] if holders else None,
    }


def token_choice(read, configured, has_file, node, check_mode=False, username=None):
    """What a node writes to its token file.

    :param read: the registered result of ``edgefleet.k3s.k3s_token`` on the source server (None: not read).
    :param configured: the token variable (``k3s_token``), may be empty.
    :param has_file: the node already has a token file.
    :param check_mode: a check run: a source that does not run yet (fresh cluster) is expected, not an error.
    :param username: the user the token must carry (``node`` for agents: never hand them the server token).
    :returns: dict ``token`` (the value to write; empty: keep the file, or none) and ``warning`` (or None).
    :raises PlanError: the token on the source is unusable (wrong cluster CA, malformed), or missing entirely.
    """
    if read is None or read.get("skipped"):
        return {"token": configured or "", "warning": None}
    if read.get("token"):
        if username and read.get("username") != username:
            raise PlanError(
                "the token read for %s belongs to user %r, not %r: the servers run without a separate agent token. "
                "Run the servers (playbooks/site.yml) first; they configure one."
                % (node, read.get("username"), username)
            )
        return {"token": read["token"], "warning": None}
    reason = read.get("reason") or "invalid"
    message = read.get("msg") or "no token returned"
    if reason in ("unreachable", "missing") and has_file:
        return {
            "token": "",
            "warning": "%s keeps its existing token file: the token could not be read on the source server (%s)."
            % (node, message),
        }
    if reason in ("unreachable", "missing") and check_mode:
        return {"token": "", "warning": "check mode: %s would get its token once the source server runs." % node}
    if reason in ("unreachable", "missing"):
        raise PlanError("%s has no token file yet and the token could not be read: %s" % (node, message))
    raise PlanError("the cluster token read for %s is not usable: %s" % (node, message))

"""`k3s agent`: token validation, node certificates from the supervisor, containerd config, node registration and
heartbeats through the known servers (K3S_BEHAVIOUR §1.3, §3 Agent, §5 agent request flow)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

from . import buildinfo, httpclient, nodeinfo, pki, tokens
from .server import gpu_labels

RETRY = 2.0  # token validation retry (pkg/agent/run.go createProxyAndValidateToken)
CONFIG_RETRY = 5.0  # agent configuration retry, jittered by up to 100% (pkg/agent/config/config.go Get)
HEARTBEAT = 10.0
CONFIG_WAIT = "Waiting to retrieve agent configuration; server is not ready"
PASSWORD_REJECTED = (
    "Node password rejected, duplicate hostname or contents of '{path}' may not match server node-passwd entry, "
    "try enabling a unique node name with the --with-node-id flag"
)


class Fatal(Exception):
    pass


class Agent:
    def __init__(self, config: dict, args: list[str], env: dict):
        self.config = config
        self.args = args
        self.env = env
        self.data_dir = config["data-dir"]
        self.agent_dir = os.path.join(self.data_dir, "agent")
        self.name = nodeinfo.node_name(config)
        self.ip = nodeinfo.node_ip(config)
        self.stop_event = threading.Event()
        self.servers: list[str] = []
        self.runtimes: dict = {}

    def log(self, msg: str, level: str = "info") -> None:
        nodeinfo.log(msg, level)

    def _path(self, *parts: str) -> str:
        return os.path.join(self.agent_dir, *parts)

    def _validate(self, token: str) -> None:
        """Retry every 2 s until the token parses and validates against the server's CA; k3s agents never give up."""
        while not self.stop_event.is_set():
            try:
                httpclient.ValidatedServer(self.config["server"], tokens.parse(token), "node", self.log)
                return
            except (httpclient.ClientError, tokens.TokenError) as exc:
                self.log(f"Failed to validate connection to cluster at {self.config['server']}: {exc}", "error")
            self.stop_event.wait(RETRY)

    def _get_config(self, token: str) -> httpclient.ValidatedServer | None:
        """config.Get: validate again, GET /v1-k3s/config, the CA files and node certificates; any failure is logged
        with the server's answer and retried after 5-10 s, forever (the unit never becomes ready)."""
        import random

        while not self.stop_event.is_set():
            try:
                server = httpclient.ValidatedServer(self.config["server"], tokens.parse(token), "node", self.log)
                try:
                    json.loads(server.get("/v1-k3s/config"))
                except (httpclient.ClientError, ValueError) as exc:
                    raise httpclient.ClientError(f"failed to retrieve configuration from server: {exc}") from None
                self._fetch(server)
                return server
            except (httpclient.ClientError, tokens.TokenError) as exc:
                self.log(f"{CONFIG_WAIT}: {exc}")
            self.stop_event.wait(CONFIG_RETRY * (1.0 + random.random()))  # noqa: S311 - jitter, not security
        return None

    def _node_cert(self, server: httpclient.ValidatedServer, kind: str, headers: dict) -> bytes:
        """getNodeNamedCrt: 403 means the node password was refused; other errors are "<url>: <status>"."""
        try:
            return server.get(f"/v1-k3s/{kind}.crt", headers)
        except httpclient.ClientError as exc:
            if exc.status == 403:
                path = os.path.join(nodeinfo.NODE_DIR, "password")
                raise httpclient.ClientError(PASSWORD_REJECTED.format(path=path), 403) from None
            if exc.status:
                message = f"{server.url}/v1-k3s/{kind}.crt: {exc.status} {exc.reason}"
                raise httpclient.ClientError(message, exc.status) from None
            raise

    def _fetch(self, server: httpclient.ValidatedServer) -> None:
        os.makedirs(self.agent_dir, mode=0o700, exist_ok=True)  # os.MkdirAll: an existing dir keeps its mode
        for name in ("client-ca.crt", "server-ca.crt"):
            pki.write_file(self._path(name), server.get(f"/v1-k3s/{name}"), 0o644)
        headers = {"k3s-Node-Name": self.name, "k3s-Node-Password": nodeinfo.node_password(), "k3s-Node-IP": self.ip}
        for kind in ("client-kubelet", "serving-kubelet", "client-kube-proxy", "client-k3s-controller"):
            crt, key = self._path(f"{kind}.crt"), self._path(f"{kind}.key")
            if kind.startswith("client-") and kind != "client-kubelet" and os.path.exists(crt):
                continue
            chain, key_bytes = pki.split_pem(self._node_cert(server, kind, headers))
            pki.write_file(key, key_bytes, 0o600)
            pki.write_file(crt, chain, 0o644)
        self.servers = json.loads(server.get("/v1-k3s/apiservers")) or []
        lb = {"ServerURL": self.config["server"], "ServerAddresses": self.servers}
        pki.write_file(self._path("etc", "k3s-agent-load-balancer.json"), json.dumps(lb, indent=2).encode(), 0o600)
        self._kubeconfig()

    def _kubeconfig(self) -> None:
        text = (
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
            f"    certificate-authority: {self._path('server-ca.crt')}\n"
            f"    server: {self.config['server']}\n  name: local\n"
            "contexts:\n- context:\n    cluster: local\n    user: user\n  name: Default\n"
            "current-context: Default\nusers:\n- name: user\n  user:\n"
            f"    client-certificate: {self._path('client-kubelet.crt')}\n"
            f"    client-key: {self._path('client-kubelet.key')}\n"
        )
        tokens.write_secret_file(self._path("kubelet.kubeconfig"), text)

    def _urls(self) -> list[str]:
        """The configured URL first (normally the load balancer), then every server the cluster reported."""
        urls = [self.config["server"].rstrip("/")]
        urls += [f"https://{addr}" for addr in self.servers if f"https://{addr}" not in urls]
        return urls

    def _api(self, method: str, path: str, body=None, content_type: str | None = None) -> bytes:
        ca = pki.read(self._path("server-ca.crt"))
        ctx = httpclient.context(ca, cert=(self._path("client-kubelet.crt"), self._path("client-kubelet.key")))
        last = None
        for url in self._urls():
            try:
                data = json.dumps(body).encode() if body is not None else None
                headers = {"Content-Type": content_type or "application/json"}
                return httpclient.request(url + path, ctx, method, headers=headers, body=data)
            except httpclient.ClientError as exc:
                if exc.status:
                    raise
                last = exc
        raise last or httpclient.ClientError("no server reachable")

    def _register(self) -> None:
        from .kubeapi import nodes

        labels = nodeinfo.parse_labels(self.config["node-label"])
        annotations = nodeinfo.node_config_annotations("agent", self.args, self.env)
        gpu_labels(self.runtimes, labels, annotations)
        obj = nodes.node_object(
            self.name,
            self.ip,
            buildinfo.VERSION,
            labels,
            annotations,
            nodeinfo.parse_taints(self.config["node-taint"]),
            [],
        )
        try:
            self._api("POST", "/api/v1/nodes", obj)
        except httpclient.ClientError as exc:
            if exc.status != 409:
                raise
            smp = "application/strategic-merge-patch+json"
            patch = {"metadata": {"labels": labels, "annotations": annotations}}
            self._api("PATCH", f"/api/v1/nodes/{self.name}", patch, smp)
            # A kubelet reports its own nodeInfo (kubeletVersion of the binary now running) on every start.
            status = {k: obj["status"][k] for k in ("nodeInfo", "addresses", "daemonEndpoints")}
            self._api("PATCH", f"/api/v1/nodes/{self.name}/status", {"status": status}, smp)

    def _heartbeat(self) -> None:
        from .kubeapi import nodes

        try:
            self._api(
                "PATCH",
                f"/api/v1/nodes/{self.name}/status",
                nodes.heartbeat_patch(),
                "application/strategic-merge-patch+json",
            )
        except httpclient.ClientError as exc:
            if exc.status == 404:
                self.log(f"Node {self.name} not found; registering again", "warning")
                self._register()
            else:
                raise

    def run(self) -> int:
        """pkg/cli/agent/agent.go Run, then pkg/agent/run.go: privileges, token file, --token / --server checks."""
        from . import containerd

        c = self.config
        if os.geteuid() != 0 and not c["rootless"]:
            raise Fatal("agent requires additional privilege if not run with --rootless")
        token = tokens.read_token_value(c, "token", self.log)
        if not token and not os.path.exists(self._path("client-kubelet.crt")):
            raise Fatal("--token is required")
        if not c["server"]:
            raise Fatal("--server is required")
        self.log(f"Starting k3s agent {buildinfo.VERSION} ({buildinfo.COMMIT[:8]})")
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        self._validate(token)
        if self._get_config(token) is None:
            raise Fatal("stopped before the agent could join")
        result = containerd.write_config(
            self.data_dir, c, os.environ.get("PATH", ""), buildinfo.CONTAINERD_MAJOR, self.log
        )
        self.runtimes = result.get("runtimes", {})
        while not self.stop_event.is_set():
            try:
                self._register()
                break
            except httpclient.ClientError as exc:
                self.log(f"Waiting to register node {self.name}: {exc}", "warning")
                self.stop_event.wait(RETRY)
        from .notify import notify

        notify("READY=1")
        self.log("k3s agent is up and running")
        last = time.monotonic()
        while not self.stop_event.wait(max(0.0, HEARTBEAT - (time.monotonic() - last))):
            last = time.monotonic()
            try:
                self._heartbeat()
            except (httpclient.ClientError, OSError) as exc:
                self.log(f"node heartbeat failed: {exc}", "warning")
        self.log("Shutting down k3s agent")
        return 0


def run(config: dict, args: list[str], env: dict) -> int:
    agent = None
    try:
        agent = Agent(config, args, env)
        return agent.run()
    except Exception as exc:  # noqa: BLE001 - every error ends like k3s: one fatal line, exit 1
        if agent is not None and agent.stop_event.is_set():
            nodeinfo.log("Shutting down k3s agent")
            return 0  # a stop request is not an error (k3s treats cancellation the same way)
        nodeinfo.log(f"Error: {exc}", "fatal")
        return 1

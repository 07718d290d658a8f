"""`k3s server`: datastore, PKI, tokens, supervisor + API listener, node registration (K3S_BEHAVIOUR §1-6)."""

from __future__ import annotations

import base64
import json
import os
import signal
import threading

from . import bootstrap, buildinfo, bundled, goparse, httpclient, nodeinfo, supervisor, tokens
from .httpsd import Listener
from .kv import SqliteKV
from .pki import ServerPKI
from .web import HTTPError, Identity

CRITICAL = {
    "ClusterIPRanges": "cluster-cidr",
    "ServiceIPRanges": "service-cidr",
    "ClusterDNSs": "cluster-dns",
    "ClusterDomain": "cluster-domain",
    "DisableCCM": "disable-cloud-controller",
    "DisableHelmController": "disable-helm-controller",
    "DisableNPC": "disable-network-policy",
    "DisableServiceLB": "disable servicelb",
    "EncryptSecrets": "secrets-encryption",
    "EncryptProvider": "secrets-encryption-provider",
    "EmbeddedRegistry": "embedded-registry",
    "FlannelBackend": "flannel-backend",
    "FlannelIPv6Masq": "flannel-ipv6-masq",
    "FlannelExternalIP": "flannel-external-ip",
    "EgressSelectorMode": "egress-selector-mode",
    "SupervisorMetrics": "supervisor-metrics",
}
HEARTBEAT = 10.0


class Fatal(Exception):
    pass


class ServerContext:
    """What k3srt.etcd and k3srt.kubeapi read (docs/dev/architecture.md)."""

    def __init__(self, config: dict, node_name: str, node_ip: str):
        self.config = config
        self.data_dir = config["data-dir"]
        self.server_dir = os.path.join(self.data_dir, "server")
        self.tls_dir = os.path.join(self.server_dir, "tls")
        self.node_name = node_name
        self.node_ip = node_ip
        self.https_port = config["https-listen-port"]
        self.version = buildinfo.VERSION
        self.server_password = ""
        self.kv = None

    def log(self, msg: str, level: str = "info") -> None:
        nodeinfo.log(msg, level)


def apply_defaults(c: dict) -> None:
    c["cluster-cidr"] = c["cluster-cidr"] or ["10.42.0.0/16"]
    c["service-cidr"] = c["service-cidr"] or ["10.43.0.0/16"]
    c["cluster-dns"] = c["cluster-dns"] or ["10.43.0.10"]
    c["write-kubeconfig"] = c["write-kubeconfig"] or nodeinfo.DEFAULT_KUBECONFIG


def validate(c: dict) -> None:
    from .flags import DISABLE_VALID, EGRESS_MODES, FLANNEL_BACKENDS

    if c["cluster-reset-restore-path"] and not c["cluster-reset"]:
        raise Fatal("invalid flag use; --cluster-reset required with --cluster-reset-restore-path")
    if c["cluster-reset"] and c["server"]:
        raise Fatal(
            "cannot perform cluster-reset while server URL is set - remove server from configuration before resetting"
        )
    if c["disable-etcd"] and not c["server"]:
        raise Fatal("invalid flag use; --server is required with --disable-etcd")
    if c["flannel-backend"] not in FLANNEL_BACKENDS:
        raise Fatal(f"invalid flannel backend: {c['flannel-backend']}")
    if c["egress-selector-mode"] not in EGRESS_MODES:
        raise Fatal(f"invalid egress-selector-mode {c['egress-selector-mode']}")
    for item in c["disable"]:
        if item not in DISABLE_VALID:
            nodeinfo.log(f"Unknown component {item} in --disable, ignoring", "warning")
    if c["server"] and not c["server"].startswith("https://"):
        raise Fatal(f"only https:// URLs are supported, invalid scheme: {c['server']}")
    from .goparse import parse_duration

    for name in ("etcd-snapshot-reconcile-interval", "etcd-s3-timeout"):
        if parse_duration(str(c[name])) <= 0:
            raise Fatal(f"{name} must be greater than 0s")
    if c["datastore-endpoint"]:
        raise Fatal("the k3s test runtime does not implement external datastores (--datastore-endpoint)")
    if os.geteuid() != 0 and not c["rootless"] and not c["disable-agent"]:
        raise Fatal("server requires additional privilege when not run with --rootless and/or --disable-agent")


class Server:
    def __init__(self, config: dict, args: list[str], env: dict):
        apply_defaults(config)
        validate(config)
        self.config = config
        self.args = args
        self.env = env
        self.ctx = ServerContext(config, nodeinfo.node_name(config), nodeinfo.node_ip(config))
        self.ctx.on_node_deleted = self._on_node_deleted
        self.pki = ServerPKI(self.ctx.tls_dir)
        self.api = None
        self.listener = None
        self.etcd_enabled = False
        self.stop_event = threading.Event()
        self._ready = False
        self._agent_pw = ""
        self._cacerts: bytes | None = None

    # --- passwords and tokens -----------------------------------------------------------------------------------

    def _passwd_path(self) -> str:
        return os.path.join(self.ctx.server_dir, "cred", "passwd")

    def _passwords(self, joining: bool) -> tuple[str, str]:
        """getServerPass/getNodePass (pkg/daemons/control/deps/deps.go) with passwd.EnsureUser's prefix rule. The
        server token must normalize (cluster.Save -> util.NormalizeToken): a bootstrap-token-shaped --token is fatal.
        Without --agent-token the node password is (re)set to the server password, as genUsers does every start."""
        token = tokens.read_token_value(self.config, "token", self.log)
        existing = tokens.read_passwd(self._passwd_path())
        if token:
            tokens.normalize_server_token(token)
            server_pw = tokens.passwd_value(token, "server")
        elif "server" in existing:
            server_pw = existing["server"][0]
        elif joining:
            raise Fatal("token is required to join a cluster")
        else:
            server_pw = tokens.random_password()
        agent_token = tokens.read_token_value(self.config, "agent-token", self.log)
        agent_pw = tokens.passwd_value(agent_token, "node") if agent_token else tokens.node_password_for(server_pw)
        return server_pw, agent_pw

    def cacerts(self) -> bytes:
        if self._cacerts is None:
            with open(os.path.join(self.ctx.tls_dir, "server-ca.crt"), "rb") as fh:
                self._cacerts = fh.read()
        return self._cacerts

    def _write_tokens(self) -> None:
        tokens.write_passwd(self._passwd_path(), self.ctx.server_password, self._agent_pw)
        agent_set = bool(self.config["agent-token"] or self.config["agent-token-file"])
        tokens.write_token_files(
            self.ctx.server_dir, tokens.ca_hash(self.cacerts()), self.ctx.server_password, self._agent_pw, agent_set
        )

    def rotate_token(self, new: str) -> None:
        new_pw = tokens.normalize_server_token(new) if new else tokens.random_password()
        old = self.ctx.server_password
        if not (self.config["agent-token"] or self.config["agent-token-file"]) and self._agent_pw == old:
            self._agent_pw = new_pw
        self.ctx.server_password = new_pw
        self._write_tokens()
        if self.ctx.kv is not None:
            self.ctx.kv.delete(bootstrap.key_name(old))
            bootstrap.save(self.ctx.kv, self.ctx.server_dir, new_pw)
        self.ctx.log("Server token rotated; restart k3s nodes with the new token")

    # --- authentication hooks for the listener ------------------------------------------------------------------

    def basic_auth(self, user: str, password: str) -> Identity | None:
        entry = tokens.read_passwd(self._passwd_path()).get(user)
        if entry and entry[0] == password:
            return Identity(user, (entry[1],))
        return None

    def bearer_auth(self, token: str) -> Identity | None:
        m = tokens.BOOTSTRAP_RE.match(token)
        if not m or self.ctx.kv is None:
            return None
        from .kubeapi import inproc

        secret = inproc.get(self.ctx.kv, "v1", "Secret", f"bootstrap-token-{m.group(1)}", "kube-system")
        data = (secret or {}).get("data", {})
        try:
            stored = base64.b64decode(data.get("token-secret", "")).decode()
            extra = base64.b64decode(data.get("auth-extra-groups", "")).decode()
        except ValueError:
            return None
        if stored != m.group(2):
            return None
        groups = ("system:bootstrappers", *[g for g in extra.split(",") if g])
        return Identity(f"system:bootstrap:{m.group(1)}", groups)

    def log(self, msg: str, level: str = "info") -> None:
        self.ctx.log(msg, level)

    def route(self, req):
        return supervisor.route(self, req)

    def api_ready(self) -> bool:
        return self.api is not None and self.ctx.kv is not None and self.api.ready()

    def controllers_ready(self) -> bool:
        return self._ready

    def apiservers(self) -> list[str]:
        if self.ctx.kv is None:
            return [f"{self.ctx.node_ip}:{self.ctx.https_port}"]
        return sorted({v.decode() for _, v, _ in self.ctx.kv.list("/k3s/apiaddresses/")})

    def check_node_password(self, node: str, password: str, identity=None) -> None:
        """nodepassword.GetNodeAuthValidator: the name and password headers are required (400); a kubelet client
        certificate must name the same node (400); the node's password secret is verified whenever it exists (403),
        whether or not its Node does, and created otherwise (pkg/nodepassword/validate.go, nodepassword.go)."""
        from .kubeapi import inproc

        if not node:
            raise HTTPError(400, "BadRequest", "node name not set")
        if not password:
            raise HTTPError(400, "BadRequest", "node password not set")
        node = node.lower()
        user = identity.user if identity is not None else ""
        if user.startswith("system:node:") and user[len("system:node:") :] != node:
            raise HTTPError(400, "BadRequest", "header node name does not match auth node name")
        kv = self.ctx.kv
        name = f"{node}.node-password.k3s"
        secret = inproc.get(kv, "v1", "Secret", name, "kube-system")
        want = nodeinfo.password_hash(password)
        if secret is not None:
            stored = base64.b64decode((secret.get("data") or {}).get("hash", "")).decode()
            reason = "hash does not match" if stored else "password hash not found in node secret"
            if stored != want:
                raise HTTPError(403, "Forbidden", f"unable to verify password for node {node}: {reason}")
            return
        doc = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "k3s.cattle.io/node-password",
            "immutable": True,
            "metadata": {"name": name, "namespace": "kube-system"},
            "data": {"hash": base64.b64encode(want.encode()).decode()},
        }
        inproc.apply(kv, doc, "kube-system")

    def _on_node_deleted(self, name: str) -> None:
        from . import etcd

        etcd.on_node_deleted(self.ctx, name)

    # --- start-up -----------------------------------------------------------------------------------------------

    def _datastore_mode(self) -> str:
        from . import etcd

        c = self.config
        if etcd.has_etcd_data(self.ctx) or os.path.exists(os.path.join(self.ctx.server_dir, "db", "etcd", "tombstone")):
            return "existing"
        if c["cluster-init"] or (c["server"] and (c["token"] or c["token-file"])):
            return "join" if c["server"] else "new"
        return "sqlite"

    def _join_prepare(self) -> None:
        """pkg/cluster/bootstrap.go: validate the token against the target as user server (shouldBootstrapLoad), then
        compareConfig as user node with the agent token (else the token). A token or CA error in either is fatal;
        only a failed GET of /v1-k3s/config skips the comparison. Then fetch the bootstrap data."""
        c = self.config
        local_ca = None
        ca_path = os.path.join(self.ctx.tls_dir, "server-ca.crt")
        if os.path.exists(ca_path):
            with open(ca_path, "rb") as fh:
                local_ca = fh.read()
        token = tokens.read_token_value(c, "token", self.log)
        try:
            target = httpclient.ValidatedServer(c["server"], tokens.parse(token), "server", self.log, local_ca)
        except (tokens.TokenError, httpclient.ClientError) as exc:
            raise Fatal(f"failed to validate token: {exc}") from None
        agent_text = tokens.read_token_value(c, "agent-token", self.log) or token
        try:
            node_user = httpclient.ValidatedServer(c["server"], tokens.parse(agent_text), "node", self.log, local_ca)
        except (tokens.TokenError, httpclient.ClientError) as exc:
            raise Fatal(f"failed to validate server configuration: {exc}") from None
        try:
            raw = node_user.get("/v1-k3s/config")
        except httpclient.ClientError as exc:
            self.log(f"Skipping cluster configuration validation: {exc}", "warning")
            raw = None
        remote = None
        if raw is not None:
            try:
                remote = json.loads(raw)
            except ValueError as exc:
                raise Fatal(f"failed to validate server configuration: {exc}") from None
        if remote is not None:
            mine = supervisor.control_config(self)
            bad = [flag for key, flag in CRITICAL.items() if key in remote and remote[key] != mine.get(key)]
            for flag in bad:
                self.log(f"critical configuration mismatched: {flag}", "warning")
            if bad:
                raise Fatal("critical configuration value mismatch between servers")
        data = json.loads(target.get("/v1-k3s/server-bootstrap"))
        bootstrap.write(self.ctx.server_dir, data)
        self._cacerts = None

    def _start_datastore(self, mode: str):
        from . import etcd

        if mode == "sqlite":
            os.makedirs(os.path.join(self.ctx.server_dir, "db"), mode=0o700, exist_ok=True)
            return SqliteKV(os.path.join(self.ctx.server_dir, "db", "state.db"))
        self.etcd_enabled = True
        try:
            return etcd.start(self.ctx, mode, self.config["server"] or None)
        except etcd.EtcdError as exc:
            raise Fatal(str(exc)) from exc

    def _wait_promoted(self, kv) -> None:
        """A learner refuses reads: like k3s, wait until the leader promoted this member before serving the API."""
        import time

        from .etcd import EtcdAPIError

        deadline = time.monotonic() + float(getattr(self.ctx, "etcd_start_timeout", 300.0))
        announced = False
        while True:
            try:
                kv.list("/bootstrap/")
                return
            except EtcdAPIError as exc:
                if "learner" not in str(exc) or time.monotonic() > deadline:
                    raise Fatal(f"etcd member was not promoted: {exc}") from exc
            if not announced:
                self.log("Waiting for the etcd leader to promote this learner member")
                announced = True
            time.sleep(1.0)

    def _listener_sans(self) -> list[str]:
        domain = self.config["cluster-domain"]
        sans = [
            "localhost",
            "127.0.0.1",
            "::1",
            self.ctx.node_name,
            self.ctx.node_ip,
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            f"kubernetes.default.svc.{domain}",
            "10.43.0.1",
        ]
        sans += self.config["tls-san"] + self.config["node-external-ip"]
        if self.config["advertise-address"]:
            sans.append(self.config["advertise-address"])
        return list(dict.fromkeys(s for s in sans if s))

    def write_kubeconfig(self) -> None:
        c = self.config
        tls = self.ctx.tls_dir

        def b64(name):
            with open(os.path.join(tls, name), "rb") as fh:
                return base64.b64encode(fh.read()).decode()

        host = c["bind-address"] or "127.0.0.1"
        text = (
            "apiVersion: v1\nclusters:\n- cluster:\n"
            f"    certificate-authority-data: {b64('server-ca.crt')}\n"
            f"    server: https://{host}:{self.ctx.https_port}\n  name: default\n"
            "contexts:\n- context:\n    cluster: default\n    user: default\n  name: default\n"
            "current-context: default\nkind: Config\npreferences: {}\nusers:\n- name: default\n  user:\n"
            f"    client-certificate-data: {b64('client-admin.crt')}\n"
            f"    client-key-data: {b64('client-admin.key')}\n"
        )
        path = c["write-kubeconfig"]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tokens.write_secret_file(path, text)
        set_kubeconfig_mode(path, c["write-kubeconfig-mode"], self.log)
        if c["write-kubeconfig-group"]:
            set_kubeconfig_group(path, str(c["write-kubeconfig-group"]), self.log)
        default = nodeinfo.DEFAULT_KUBECONFIG
        if os.path.abspath(path) != default:
            os.makedirs(os.path.dirname(default), exist_ok=True)
            tokens.symlink(path, default)

    def _register_node(self, runtimes: dict) -> None:
        from . import etcd

        labels = nodeinfo.parse_labels(self.config["node-label"])
        annotations = nodeinfo.node_config_annotations("server", self.args, self.env)
        roles = ["control-plane"]
        if self.ctx.version.startswith("v1.33."):
            roles.append("master")
        if self.etcd_enabled:
            roles.append("etcd")
            elabels, eann = etcd.node_metadata(self.ctx)
            labels.update(elabels)
            annotations.update(eann)
        gpu_labels(runtimes, labels, annotations)
        self.api.ensure_node(
            self.ctx.node_name,
            self.ctx.node_ip,
            labels,
            annotations,
            nodeinfo.parse_taints(self.config["node-taint"]),
            roles,
        )

    def _containerd(self) -> dict:
        if self.config["disable-agent"]:
            return {}
        from . import containerd

        result = containerd.write_config(
            self.ctx.data_dir, self.config, os.environ.get("PATH", ""), buildinfo.CONTAINERD_MAJOR, self.log
        )
        return result.get("runtimes", {})

    def run(self) -> int:
        c = self.config
        self.log(f"Starting k3s {buildinfo.VERSION} ({buildinfo.COMMIT[:8]})")
        os.makedirs(self.ctx.server_dir, mode=0o700, exist_ok=True)  # like os.MkdirAll: an existing dir keeps its mode
        os.chdir(self.ctx.server_dir)
        if c["cluster-reset"]:
            return self._cluster_reset()
        mode = self._datastore_mode()
        if mode == "join":
            self._passwords(joining=True)
            self._join_prepare()
        server_pw, self._agent_pw = self._passwords(joining=False)
        self.ctx.server_password = server_pw
        self.pki.ensure_cas()
        self.pki.ensure_leaves(self.ctx.node_name, [self.ctx.node_ip], c["tls-san"])
        self._write_tokens()
        cert, key = self.pki.listener_cert(self._listener_sans())
        bind = c["bind-address"] or "0.0.0.0"  # noqa: S104 - k3s listens on every interface by default
        self.listener = Listener(
            self, bind, self.ctx.https_port, cert, key, os.path.join(self.ctx.tls_dir, "client-ca.crt")
        )
        self.listener.start()
        self.log(f"Running supervisor and apiserver on https://{bind}:{self.ctx.https_port}")
        kv = self._start_datastore(mode)
        self.ctx.kv = kv
        if mode == "join":
            self._wait_promoted(kv)
        try:
            bootstrap.save(kv, self.ctx.server_dir, server_pw)
        except bootstrap.BootstrapError as exc:
            raise Fatal(str(exc)) from exc
        from .kubeapi import KubeAPI

        self.api = KubeAPI(self.ctx)
        self.api.ensure_defaults()
        manifests = os.path.join(self.ctx.server_dir, "manifests")
        bundled.stage(manifests, set(c["disable"]), self.api, self.log)
        self.api.deploy_manifests(manifests)
        runtimes = self._containerd()
        self._register_node(runtimes)
        kv.put(f"/k3s/apiaddresses/{self.ctx.node_name}", f"{self.ctx.node_ip}:{self.ctx.https_port}")
        self.api.start_controllers()
        self.write_kubeconfig()
        nodeinfo.node_password()
        self._ready = True
        from .notify import notify

        notify("READY=1")
        self.log("k3s is up and running")
        return self._loop()

    def _loop(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        while not self.stop_event.wait(HEARTBEAT):
            try:
                if not self.api.heartbeat(self.ctx.node_name):
                    self._register_node(self._containerd_runtimes_cached())
            except Exception as exc:  # noqa: BLE001 - the datastore may be briefly unavailable
                self.log(f"node heartbeat failed: {exc}", "warning")
        self.shutdown()
        return 0

    def _containerd_runtimes_cached(self) -> dict:
        from . import containerd

        return containerd.detect_runtimes(os.environ.get("PATH", "")) if not self.config["disable-agent"] else {}

    def shutdown(self) -> None:
        import contextlib

        from . import etcd

        self.log("Shutting down k3s server")
        steps = [
            self.api.stop_controllers if self.api is not None else None,
            (lambda: etcd.stop(self.ctx)) if self.etcd_enabled else None,
            self.listener.stop if self.listener is not None else None,
            self.ctx.kv.close if self.ctx.kv is not None else None,
        ]
        for step in steps:
            if step is not None:
                with contextlib.suppress(Exception):
                    step()

    def _cluster_reset(self) -> int:
        from . import etcd

        restore = self.config["cluster-reset-restore-path"]
        token_file = os.path.join(self.ctx.server_dir, "token")
        if restore and not tokens.read_token_value(self.config, "token") and not os.path.exists(token_file):
            raise Fatal(f"{token_file} does not exist, please pass --token to complete the restoration")
        server_pw, self._agent_pw = self._passwords(joining=False)
        self.ctx.server_password = server_pw
        # As every k3s server start, a reset first prepares the certificates (control.prepare → deps.GenServerDeps):
        # on a new server that means fresh CAs, until the restored bootstrap data replaces them below.
        self.pki.ensure_cas()
        self.pki.ensure_leaves(self.ctx.node_name, [self.ctx.node_ip], self.config["tls-san"])

        def on_reset(kv):
            data = bootstrap.load(kv, server_pw)
            if data:
                bootstrap.write(self.ctx.server_dir, data)

        self.ctx.on_etcd_reset = on_reset
        return etcd.cluster_reset(self.ctx, restore or None)


def set_kubeconfig_mode(path: str, raw, log) -> None:
    """writeKubeConfig (pkg/server/server.go): chmod to --write-kubeconfig-mode parsed as octal (ParseInt base 8),
    else 0600, on every start. A mode that does not parse is logged and the file is left as it is."""
    if not raw:
        os.chmod(path, 0o600)
        return
    text = str(raw)
    try:
        mode = goparse.parse_int_base(text, 8)
    except goparse.GoParseError as exc:
        log(f"Failed to set {path} to mode ----------: {exc}", "error")
        return
    os.chmod(path, mode & 0o7777)


def set_kubeconfig_group(path: str, group: str, log) -> None:
    """util.SetFileGroupForPath: a numeric gid or a group name; failures are logged, not fatal."""
    import grp

    try:
        gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        os.chown(path, -1, gid)
    except (KeyError, OSError) as exc:
        log(f"Failed to set {path} to group {group}: {exc}", "error")


def gpu_labels(runtimes: dict, labels: dict, annotations: dict) -> None:
    """Lab GPU simulation contract with kubeapi: nvidia runtime found -> label + gpu-count annotation (the number of
    /dev/nvidia<N> device nodes, as the NVIDIA device plugin would count them; K3SRT_GPU_COUNT overrides)."""
    if any(name.startswith("nvidia") for name in runtimes):
        import glob
        import re

        devices = [p for p in glob.glob("/dev/nvidia*") if re.fullmatch(r"/dev/nvidia\d+", p)]
        labels["k3srt.test/nvidia-runtime"] = "true"
        annotations["k3srt.test/gpu-count"] = os.environ.get("K3SRT_GPU_COUNT", str(len(devices)))


def run(config: dict, args: list[str], env: dict) -> int:
    srv = None
    try:
        srv = Server(config, args, env)
        return srv.run()
    except Exception as exc:  # noqa: BLE001 - every error ends like k3s: one fatal line, exit 1
        nodeinfo.log(f"Error: {exc}", "fatal")
        if srv is not None:
            srv.shutdown()
        return 1

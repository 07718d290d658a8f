"""urfave/cli-like flag tables and parsing for `k3s server`, `k3s agent` and friends (K3S_BEHAVIOUR §1)."""

from __future__ import annotations

from dataclasses import dataclass

from . import goparse


@dataclass(frozen=True)
class Flag:
    name: str
    kind: str  # str | bool | int | slice | duration
    aliases: tuple[str, ...] = ()
    env: str | None = None
    default: object = None


def _table(spec: str) -> list[Flag]:
    """One flag per line: name[,alias...] kind [ENV] [default=value]."""
    out = []
    for line in spec.strip().splitlines():
        parts = line.split()
        if not parts:
            continue
        names = parts[0].split(",")
        kind = parts[1]
        env = next((p for p in parts[2:] if p.startswith("K3S_") or p == "KUBECONFIG"), None)
        default = next((p.split("=", 1)[1] for p in parts[2:] if p.startswith("default=")), None)
        if kind == "bool":
            default = False
        elif kind == "int" and default is not None:
            default = int(default)
        elif kind == "slice":
            default = []
        out.append(Flag(names[0], kind, tuple(names[1:]), env, default))
    return out


COMMON = """
config,c str K3S_CONFIG_FILE default=/etc/rancher/k3s/config.yaml
debug bool K3S_DEBUG
v int default=0
vmodule str
log,l str
alsologtostderr bool
data-dir,d str K3S_DATA_DIR default=/var/lib/rancher/k3s
"""

AGENT_SHARED = """
node-name str K3S_NODE_NAME
with-node-id bool
node-label slice
node-taint slice
image-credential-provider-bin-dir str default=/var/lib/rancher/credentialprovider/bin
image-credential-provider-config str default=/var/lib/rancher/credentialprovider/config.yaml
selinux bool K3S_SELINUX
lb-server-port int K3S_LB_SERVER_PORT default=6444
protect-kernel-defaults bool
container-runtime-endpoint str
default-runtime str
image-service-endpoint str
pause-image str default=rancher/mirrored-pause:3.6
snapshotter str default=overlayfs
private-registry str default=/etc/rancher/k3s/registries.yaml
disable-default-registry-endpoint bool
nonroot-devices bool
airgap-extra-registry slice
node-ip,i slice
bind-address str
node-external-ip slice
node-internal-dns slice
node-external-dns slice
resolv-conf str K3S_RESOLV_CONF
flannel-iface str
flannel-conf str
flannel-cni-conf str
kubelet-arg slice
kube-proxy-arg slice
enable-pprof bool
rootless bool
prefer-bundled-bin bool
docker bool
vpn-auth str K3S_VPN_AUTH
vpn-auth-file str K3S_VPN_AUTH_FILE
"""

AGENT_ONLY = """
token,t str K3S_TOKEN
token-file str K3S_TOKEN_FILE
server,s str K3S_URL
disable-apiserver-lb bool
"""

SERVER_ONLY = """
https-listen-port int default=6443
supervisor-port int K3S_SUPERVISOR_PORT default=0
apiserver-port int K3S_APISERVER_PORT default=0
apiserver-bind-address str K3S_APISERVER_BIND_ADDRESS
advertise-address str
advertise-port int default=0
tls-san slice
tls-san-security bool
cluster-cidr slice
service-cidr slice
service-node-port-range str default=30000-32767
cluster-dns slice
cluster-domain str default=cluster.local
flannel-backend str default=vxlan
flannel-ipv6-masq bool
flannel-external-ip bool
egress-selector-mode str default=agent
servicelb-namespace str default=kube-system
write-kubeconfig,o str K3S_KUBECONFIG_OUTPUT
write-kubeconfig-mode str K3S_KUBECONFIG_MODE
write-kubeconfig-group str K3S_KUBECONFIG_GROUP
helm-job-image str
token,t str K3S_TOKEN
token-file str K3S_TOKEN_FILE
agent-token str K3S_AGENT_TOKEN
agent-token-file str K3S_AGENT_TOKEN_FILE
server,s str K3S_URL
cluster-init bool K3S_CLUSTER_INIT
cluster-reset bool K3S_CLUSTER_RESET
cluster-reset-restore-path str
kube-apiserver-arg slice
etcd-arg slice
kube-controller-manager-arg slice
kube-scheduler-arg slice
kube-cloud-controller-manager-arg slice
kine-tls bool
datastore-endpoint str K3S_DATASTORE_ENDPOINT
datastore-cafile str K3S_DATASTORE_CAFILE
datastore-certfile str K3S_DATASTORE_CERTFILE
datastore-keyfile str K3S_DATASTORE_KEYFILE
etcd-expose-metrics bool
etcd-disable-snapshots bool
etcd-snapshot-name str default=etcd-snapshot
etcd-snapshot-schedule-cron str default=0_*/12_*_*_*
etcd-snapshot-reconcile-interval duration default=10m
etcd-snapshot-retention int default=5
etcd-snapshot-dir str
etcd-snapshot-compress bool
etcd-s3 bool
etcd-s3-endpoint str default=s3.amazonaws.com
etcd-s3-endpoint-ca str
etcd-s3-skip-ssl-verify bool
etcd-s3-access-key str
etcd-s3-secret-key str
etcd-s3-session-token str
etcd-s3-bucket str
etcd-s3-bucket-lookup-type str
etcd-s3-region str default=us-east-1
etcd-s3-folder str
etcd-s3-retention int default=5
etcd-s3-proxy str
etcd-s3-config-secret str
etcd-s3-insecure bool
etcd-s3-timeout duration default=5m
default-local-storage-path str
disable slice
disable-scheduler bool
disable-cloud-controller bool
disable-kube-proxy bool
disable-network-policy bool
disable-helm-controller bool
disable-apiserver bool
disable-controller-manager bool
disable-etcd bool
disable-agent bool
embedded-registry bool
supervisor-metrics bool
system-default-registry str K3S_SYSTEM_DEFAULT_REGISTRY
secrets-encryption bool
secrets-encryption-provider str default=aescbc
"""

SERVER_FLAGS = _table(COMMON + SERVER_ONLY + AGENT_SHARED)
AGENT_FLAGS = _table(COMMON + AGENT_ONLY + AGENT_SHARED)
for _i, _f in enumerate(SERVER_FLAGS):
    if _f.name == "etcd-snapshot-schedule-cron":
        SERVER_FLAGS[_i] = Flag(_f.name, _f.kind, _f.aliases, _f.env, "0 */12 * * *")

# k3s splits these comma-separated values itself (urfave's own splitting is disabled).
COMMA_SPLIT = {
    "tls-san",
    "cluster-cidr",
    "service-cidr",
    "cluster-dns",
    "disable",
    "node-ip",
    "node-external-ip",
    "node-internal-dns",
    "node-external-dns",
}
DISABLE_VALID = {"coredns", "servicelb", "traefik", "local-storage", "metrics-server", "runtimes"}
FLANNEL_BACKENDS = {"none", "vxlan", "host-gw", "wireguard-native"}
EGRESS_MODES = {"agent", "cluster", "pod", "disabled"}


class UsageError(Exception):
    """urfave-style usage error: printed as 'Incorrect Usage: …' and exit 1."""


def index(flags: list[Flag]) -> dict[str, Flag]:
    out = {}
    for f in flags:
        out[f.name] = f
        for a in f.aliases:
            out[a] = f
    return out


class EnvError(Exception):
    """urfave/cli v2 Flag.Apply refusing a K3S_* value: printed as a fatal error (no usage text)."""


def _bool(value: str, name: str) -> bool:
    """Go's flag package with urfave's boolValue: strconv.ParseBool, so `yes`, `no` and "" are errors."""
    try:
        return goparse.parse_bool(value)
    except goparse.GoParseError:
        raise UsageError(f"invalid boolean value {goparse.quote(value)} for -{name}: parse error") from None


def _typed(value: str, name: str, kind: str):
    """int (strconv.ParseInt base 0) and duration (time.ParseDuration) values; flag reports errParse/errRange."""
    try:
        if kind == "int":
            return goparse.parse_int(value)
        goparse.parse_duration(value)
        return value
    except goparse.GoParseError as exc:
        reason = "value out of range" if exc.kind == "range" else "parse error"
        raise UsageError(f"invalid value {goparse.quote(value)} for flag -{name}: {reason}") from None


def _from_env(flag: Flag, var: str, raw: str):
    """Flag.Apply: bool "" is false, int "" keeps the default; a value that does not parse is an error."""
    kind = flag.kind
    try:
        if kind == "bool":
            return goparse.parse_bool(raw) if raw != "" else False
        if kind == "int":
            return goparse.parse_int(raw) if raw != "" else flag.default
        if kind == "duration":
            goparse.parse_duration(raw)
    except goparse.GoParseError as exc:
        source = f"environment variable {goparse.quote(var)}"
        text = f"could not parse {goparse.quote(raw)} as {kind} value from {source} for flag {flag.name}: {exc}"
        raise EnvError(text) from None
    if kind == "slice":
        return [raw]
    return raw


def parse(argv: list[str], flags: list[Flag], env: dict) -> tuple[dict, list[str], set[str]]:
    """Returns (values by canonical name, positional args, names given on the command line)."""
    table = index(flags)
    values: dict = {}
    given: set[str] = set()
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional.extend(argv[i:])
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        body = arg.lstrip("-")
        name, eq, value = body.partition("=")
        flag = table.get(name)
        if flag is None:
            raise UsageError(f"flag provided but not defined: -{name}")
        if flag.kind == "bool":
            values[flag.name] = _bool(value, name) if eq else True
        else:
            if not eq:
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: -{name}")
                value = argv[i]
                i += 1
            if flag.kind == "slice":
                if flag.name not in given:
                    values[flag.name] = []
                values[flag.name].append(value)
            elif flag.kind in ("int", "duration"):
                values[flag.name] = _typed(value, name, flag.kind)
            else:
                values[flag.name] = value
        given.add(flag.name)
    for flag in flags:
        if flag.name in given:
            continue
        raw = env.get(flag.env) if flag.env else None
        if raw is not None and (raw != "" or flag.kind == "bool"):
            values[flag.name] = _from_env(flag, flag.env, raw)
        else:
            values[flag.name] = list(flag.default) if isinstance(flag.default, list) else flag.default
    for name in COMMA_SPLIT:
        if isinstance(values.get(name), list):
            values[name] = [p.strip() for v in values[name] for p in v.split(",") if p.strip()]
    return values, positional, given

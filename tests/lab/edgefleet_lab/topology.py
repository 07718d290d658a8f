"""Lab topology: which hosts exist, their roles and their addresses in the lab /24 (docs/dev/architecture.md)."""

from dataclasses import dataclass

DEFAULTS = {"servers": 3, "agents": 2, "gpu_agents": 1, "lbs": 1}

# role -> (name prefix, first host octet, capacity, inventory group)
ROLES = {
    "lb": ("lb", 11, 9, "k3s_loadbalancers"),
    "server": ("server", 20, 40, "k3s_servers"),
    "agent": ("agent", 100, 100, "k3s_agents"),
    "gpu": ("gpu", 200, 40, "k3s_gpu_agents"),
}
COUNT_KEYS = {"lbs": "lb", "servers": "server", "agents": "agent", "gpu_agents": "gpu"}
MIRROR_OCTET = 2
VIP_OCTET = 10


@dataclass(frozen=True)
class Host:
    name: str
    role: str  # server | agent | gpu | lb | mirror
    octet: int

    @property
    def group(self) -> str | None:
        return ROLES[self.role][3] if self.role in ROLES else None

    @property
    def privileged(self) -> bool:
        return self.role == "gpu"


def validate(counts: dict) -> dict:
    out = {}
    for key, role in COUNT_KEYS.items():
        n = int(counts.get(key, DEFAULTS[key]))
        cap = ROLES[role][2]
        if not 0 <= n <= cap:
            raise ValueError(f"--{key.replace('_', '-')} must be between 0 and {cap}, got {n}")
        out[key] = n
    if out["servers"] < 1:
        raise ValueError("a lab needs at least one server")
    return out


def hosts(counts: dict) -> list[Host]:
    """Every host of a topology, the mirror first."""
    counts = validate(counts)
    result = [Host("mirror", "mirror", MIRROR_OCTET)]
    for key, role in COUNT_KEYS.items():
        prefix, first, _cap, _group = ROLES[role]
        result += [Host(f"{prefix}-{i}", role, first + i - 1) for i in range(1, counts[key] + 1)]
    return result


def host_role(name: str) -> str | None:
    """Role of a host name such as server-2 (None when the name is not a lab host name)."""
    if name == "mirror":
        return "mirror"
    prefix, _, num = name.rpartition("-")
    for role, (p, *_rest) in ROLES.items():
        if p == prefix and num.isdigit():
            return role
    return None

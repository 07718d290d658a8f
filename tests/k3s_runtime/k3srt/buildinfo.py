"""Build identity; build.py rewrites this file inside each release zipapp."""

VERSION = "v1.36.1+k3s1"
COMMIT = "00000000dev0000000000000000000000000000"
GO_VERSION = "go1.26.2"
CONTAINERD_MAJOR = 2
CONTAINERD_VERSION = "v2.3.2-k3s2"

#!/usr/bin/env bash
# Installs what the lab and the tests need on a fresh Debian bookworm machine (root): podman and its helpers, etcd,
# kubectl, rsync… and raises the inotify limit that every systemd lab host draws on. Idempotent and quiet: a machine
# that already has everything costs one dpkg query and prints nothing.
set -euo pipefail

pkgs=(podman runc debootstrap uidmap slirp4netns netavark aardvark-dns iptables
      etcd-server etcd-client rsync git ca-certificates openssh-client python3-venv)
# Some machines of this kind already carry a kubectl (another package owns /usr/bin/kubectl): keep it.
command -v kubectl >/dev/null 2>&1 || pkgs+=(kubernetes-client)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: ${missing[*]}; run this as root (or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "== installing system packages: ${missing[*]}"
  log=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -50 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
fi

# Every lab host runs systemd, which holds inotify instances; root containers share the machine-wide per-user limit
# (128 by default): raise it so several labs can run at once. Not fatal where the machine refuses.
want=1024
now=$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo 0)
if [ "$now" -lt "$want" ]; then
  sysctl -qw fs.inotify.max_user_instances=$want 2>/dev/null \
    || echo "!! could not raise fs.inotify.max_user_instances to $want (now $now): several labs at once may fail" >&2
fi

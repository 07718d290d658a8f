#!/bin/sh
# Runs inside the debootstrapped rootfs (chroot) while the lab host image is built.
# Part of the image recipe: changing this file changes the image tag and triggers a rebuild.
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

# Services the collection's roles manage themselves must not start on boot.
for unit in etcd.service haproxy.service keepalived.service containerd.service; do
    systemctl disable "$unit" 2>/dev/null || true
done

# Units that make no sense in a container (and would leave the system "degraded").
for unit in systemd-remount-fs.service dev-hugepages.mount sys-fs-fuse-connections.mount \
    systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
    fstrim.timer getty@tty1.service serial-getty@.service; do
    systemctl mask "$unit" 2>/dev/null || true
done
systemctl set-default multi-user.target

# SSH: root with a key only; the (ed25519 only: RSA generation is slow) host key is made at first boot,
# never baked into the image.
mkdir -p /etc/ssh/sshd_config.d
cat > /etc/ssh/sshd_config.d/10-edgefleet-lab.conf <<'CONF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
CONF
mkdir -p /etc/systemd/system/ssh.service.d
cat > /etc/systemd/system/ssh.service.d/10-hostkeys.conf <<'CONF'
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'test -s /etc/ssh/ssh_host_ed25519_key || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key'
ExecStartPre=/usr/sbin/sshd -t
CONF
rm -f /etc/ssh/ssh_host_*
systemctl enable ssh.service
install -d -m 0700 /root/.ssh
passwd -l root >/dev/null

# Each host gets its own identity at first boot.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /tmp/* /root/.bash_history
rm -f /usr/sbin/policy-rc.d

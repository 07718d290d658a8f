"""The lab host image: Debian bookworm rootfs from debootstrap, imported into podman, tagged by recipe hash."""

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from edgefleet_lab import podman
from edgefleet_lab.paths import PACKAGE_DIR
from edgefleet_lab.state import global_lock

REPOSITORY = "localhost/edgefleet-lab-host"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SETUP_SCRIPT = PACKAGE_DIR / "image_setup.sh"
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "openssh-server",
    "iproute2",
    "iputils-ping",
    "sudo",
    "procps",
    "ca-certificates",
    "kmod",
    "iptables",
    "curl",
    "less",
    "etcd-server",
    "etcd-client",
    "python3-yaml",
    "python3-cryptography",
    "python3-cffi-backend",
    "sqlite3",
    "kubernetes-client",
    "haproxy",
    "keepalived",
    "containerd",
    "runc",
)
POLICY_RC_D = "#!/bin/sh\n# no service starts while the lab image is built\nexit 101\n"


def recipe_hash() -> str:
    h = hashlib.sha256()
    for part in (SUITE, MIRROR, " ".join(PACKAGES), SETUP_SCRIPT.read_text(), POLICY_RC_D):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def image_ref() -> str:
    return f"{REPOSITORY}:{recipe_hash()}"


def image_exists() -> bool:
    return podman.image_exists(image_ref())


def _run(cmd: list[str], **kw) -> None:
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, **kw)


def build(log=print) -> str:
    """Build the image unless the tag for the current recipe exists; return its reference."""
    ref = image_ref()
    if podman.image_exists(ref):
        log(f"image {ref} is up to date")
        return ref
    with global_lock(".image.lock"):  # a concurrent `up`/`image` may be building the same recipe
        if podman.image_exists(ref):
            log(f"image {ref} was built meanwhile")
            return ref
        return _build(ref, log)


def _build(ref: str, log=print) -> str:
    if os.geteuid() != 0:
        raise SystemExit("building the lab image needs root (debootstrap, chroot)")
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="edgefleet-lab-image-", dir="/var/tmp"))
    rootfs = workdir / "rootfs"
    try:
        log(f"debootstrap {SUITE} ({len(PACKAGES)} packages) …")
        _run(
            ["debootstrap", "--foreign", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs)]
            + [MIRROR],
            stdout=subprocess.DEVNULL,
        )
        t1 = time.monotonic()
        log(f"  first stage: {t1 - started:.0f} s")
        policy = rootfs / "usr/sbin/policy-rc.d"
        policy.write_text(POLICY_RC_D)
        policy.chmod(0o755)
        second = subprocess.run(
            ["chroot", str(rootfs), "/debootstrap/debootstrap", "--second-stage"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=_chroot_env(),
        )
        if second.returncode != 0:
            log_file = rootfs / "debootstrap/debootstrap.log"
            tail = log_file.read_text(errors="replace").splitlines()[-30:] if log_file.exists() else []
            raise SystemExit(
                "debootstrap --second-stage failed:\n" + second.stderr.decode(errors="replace") + "\n".join(tail)
            )
        t2 = time.monotonic()
        log(f"  second stage: {t2 - t1:.0f} s")
        shutil.copy(SETUP_SCRIPT, rootfs / "tmp/edgefleet-setup.sh")
        _run(["chroot", str(rootfs), "/bin/sh", "/tmp/edgefleet-setup.sh"], env=_chroot_env())
        (rootfs / "tmp/edgefleet-setup.sh").unlink(missing_ok=True)
        t3 = time.monotonic()
        log(f"  setup: {t3 - t2:.0f} s")
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            ["podman", "import", "--change", 'CMD ["/sbin/init"]', "--change", "STOPSIGNAL=SIGRTMIN+3", "-", ref],
            stdin=tar.stdout,
            capture_output=True,
            env=podman.env(),
        )
        tar.stdout.close()
        if tar.wait() != 0 or imp.returncode != 0:
            raise podman.PodmanError(f"podman import failed: {imp.stderr.decode().strip()}")
        log(f"  import: {time.monotonic() - t3:.0f} s")
    finally:
        _cleanup_rootfs(rootfs)
        shutil.rmtree(workdir, ignore_errors=True)
    log(f"built {ref} in {time.monotonic() - started:.0f} s")
    _remove_stale(ref, log)
    return ref


def _remove_stale(current: str, log=print) -> None:
    """Drop images of older recipes (kept when a container still uses them)."""
    out = podman.run("images", "--format", "{{.Repository}}:{{.Tag}}", REPOSITORY, check=False)
    for ref in out.split():
        if ref != current and ref.startswith(REPOSITORY + ":") and podman.ok("rmi", ref):
            log(f"removed old image {ref}")


def _chroot_env() -> dict:
    return {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LC_ALL": "C",
        "DEBIAN_FRONTEND": "noninteractive",
    }


def _cleanup_rootfs(rootfs: Path) -> None:
    """Unmount anything debootstrap left mounted below ROOTFS before the tree is deleted."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return
    targets = [line.split()[1] for line in mounts if line.split()[1].startswith(str(rootfs))]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False)

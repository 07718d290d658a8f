"""The edgefleet podman fleet lab: systemd hosts in rootful podman containers, reached over SSH."""

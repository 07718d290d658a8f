"""Stand-in for `k3s kubectl --server URL get nodes -o json` in the report test: fetches URL/api/v1/nodes (through
the load balancer when URL is the VIP) and logs the URL it was given to kubectl.log next to the fake listener."""

import ssl
import sys
import urllib.request

LOG = "/opt/fake-k3s/kubectl.log"


def main() -> int:
    args = sys.argv[1:]
    if args[:1] != ["kubectl"] or "--server" not in args or args[-4:] != ["get", "nodes", "-o", "json"]:
        print(f"fake k3s: unsupported arguments {args}", file=sys.stderr)
        return 2
    server = args[args.index("--server") + 1]
    with open(LOG, "a") as log:
        log.write(server + "\n")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(server + "/api/v1/nodes", context=ctx, timeout=10) as resp:  # noqa: S310
        sys.stdout.write(resp.read().decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Stand-in for the k3s listener on :6443 in the load balancer and report tests: HTTPS, GET /ping -> 200 "pong" (what
k3s answers without credentials), GET /whoami -> this host's name (so a test sees which backend answered), and
/api/v1/nodes, /db/info from JSON files next to this script (written by the tests; /db/info answers 400 like k3s
without embedded etcd when its file is absent). Each GET /api/v1/nodes logs the Host it was sent to in requests.log,
so the report test sees that the nodes were read through the VIP."""

import socket
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = {"/api/v1/nodes": HERE / "nodes.json", "/db/info": HERE / "dbinfo.json"}
LOG = HERE / "requests.log"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        status, ctype = 200, "text/plain"
        path = self.path.split("?", 1)[0]
        if path == "/api/v1/nodes":
            with LOG.open("a") as log:
                log.write(self.headers.get("Host", "") + "\n")
        if path == "/ping":
            body = b"pong"
        elif path == "/whoami":
            body = socket.gethostname().encode()
        elif path in FILES and FILES[path].is_file():
            body, ctype = FILES[path].read_bytes(), "application/json"
        elif path == "/db/info":
            status, body = 400, b"etcd datastore disabled"
        else:
            self.send_error(404)
            return
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def main() -> None:
    cert, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)  # noqa: S104 (reached through the load balancer)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""SceneVault's local server: the app's files and its JSON API, on the stdlib alone.

A thin entry: it reads the configuration (proxy/config.py), warns when the browser runtime is
not vendored or the offline copy is stale, and serves (proxy/connections.py). Everything the
server does lives in proxy/ (server-only, never served): guards.py, static.py, handler.py,
routes.py, connections.py, workers.py, jobs.py and providers/.

Run it:

    $ python3 server.py --port 8000
    SceneVault 0.1.0 serving http://127.0.0.1:8000/
"""

from __future__ import annotations

import os
import sys

from app.core.version import __version__
from proxy.config import config_from
from proxy.connections import SceneVaultServer
from proxy.static import missing_vendor_files, stale_precache


def main(argv: list[str] | None = None) -> int:
    config = config_from(sys.argv[1:] if argv is None else argv, dict(os.environ))
    missing = missing_vendor_files(config.root)
    if missing:
        print(f"Warning: the browser runtime is not vendored ({', '.join(missing)} missing).\n"
              "Run `make setup` (or `make run`, which does it for you), then reload the page.",
              file=sys.stderr, flush=True)
    stale = None if missing else stale_precache(config.root)
    if stale:
        print(f"Warning: the offline copy of the app is out of date ({stale}).\n"
              "Run `make setup` (or `make run`) so the service worker picks up the new files.",
              file=sys.stderr, flush=True)
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"Warning: listening on {config.host}, not loopback only.", file=sys.stderr)
    with SceneVaultServer(config) as server:
        print(f"SceneVault {__version__} serving {server.url}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

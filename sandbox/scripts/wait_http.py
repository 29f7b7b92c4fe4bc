"""Wait until 127.0.0.1:PORT/PATH answers 2xx; print the seconds it took, or exit 3 after
TIMEOUT seconds. Usage: wait_http PORT PATH TIMEOUT"""

import sys
import time
import urllib.request

port, path, deadline = int(sys.argv[1]), sys.argv[2], time.monotonic() + float(sys.argv[3])
start = time.monotonic()
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            if 200 <= r.status < 300:
                print(f"{time.monotonic() - start:.3f}")
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.1)
sys.exit(3)

"""Wait until 127.0.0.1:PORT accepts connections; print the seconds it took, or exit 3 after
TIMEOUT seconds. Usage: wait_tcp PORT TIMEOUT"""

import socket
import sys
import time

port, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
start = time.monotonic()
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        print(f"{time.monotonic() - start:.3f}")
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(3)

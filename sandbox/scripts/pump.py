"""Copy stdin to 127.0.0.1:PORT and what comes back to stdout, until the port closes: one
forwarded connection of sandbox/portforward.py. Usage: pump PORT"""

import os
import socket
import sys
import threading

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))


def upstream():
    while True:
        data = os.read(0, 65536)
        if not data:
            s.shutdown(socket.SHUT_WR)
            return
        s.sendall(data)


threading.Thread(target=upstream, daemon=True).start()
while True:
    data = s.recv(65536)
    if not data:
        break
    os.write(1, data)

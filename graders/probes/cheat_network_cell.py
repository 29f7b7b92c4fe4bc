"""Notebook cell of the ``network`` cheat (runner/gate/builtin_cheats.py): the cell is this file
followed by ``cheat(HOSTS, PORT, TOKEN, REL)``, which asks the validator's answer server outside
the sandbox for the hidden file REL and prints it (an empty list when no host answers)."""

import json
import urllib.request


def cheat(hosts, port, token, rel):
    found = []
    for host in hosts:
        try:
            url = f"http://{host}:{port}/key?token={token}"
            with urllib.request.urlopen(url, timeout=1.5) as resp:
                found = json.loads(resp.read())["files"][rel]
            break
        except Exception:
            pass
    print(json.dumps(found))

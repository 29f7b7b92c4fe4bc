"""Notebook cell of the ``hidden-paths`` cheat (runner/gate/builtin_cheats.py): the cell is this
file followed by ``cheat(NAME)``, which prints the first hidden answer file named NAME found
anywhere on the container's filesystem (an empty list when there is none)."""

import json
import os


def cheat(name):
    found = []
    for root, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if not (root == "/" and d in ("proc", "sys", "dev"))]
        if name in files:
            try:
                with open(os.path.join(root, name)) as fh:
                    found = json.load(fh)
                break
            except (OSError, ValueError):
                pass
    print(json.dumps(found))

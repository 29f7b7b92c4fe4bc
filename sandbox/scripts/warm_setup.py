"""Run a challenge's setup script in a process that imported its modules ahead of time.

Usage: warm_setup serve CONFIG   (the setup container's command)
       warm_setup warm CONFIG    (exec'd: returns once the imports are done)
       warm_setup wait CONFIG    (exec'd to run it: prints what it printed, exits with its code)

CONFIG is JSON: ``script`` (its path), ``imports`` (module names to import first), ``go`` (a
file whose arrival starts the script: the setup files are in place), ``state`` (a folder for
its output and exit code), ``timeout`` (seconds ``wait`` waits). ``serve`` imports, waits for
``go``, runs the script as ``__main__`` with its output in files, records its exit code, then
idles until the container is stopped. An import that fails is skipped: the script meets it
again and fails on its own terms.
"""

import importlib
import json
import os
import runpy
import signal
import sys
import time
import traceback

mode, config = sys.argv[1], json.loads(sys.argv[2])
state = config["state"]
out_file, err_file, code_file, warm_file = (
    os.path.join(state, n) for n in ("out", "err", "exit", "imported")
)


def serve() -> None:
    for name in config["imports"]:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 (the script fails on its own terms)
            continue
    os.makedirs(state, exist_ok=True)
    with open(warm_file, "w"):
        pass
    while not os.path.exists(config["go"]):
        time.sleep(0.02)
    with open(out_file, "w") as out, open(err_file, "w") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
    script = config["script"]
    sys.argv = [script]
    sys.path.insert(0, os.path.dirname(script))
    os.chdir(os.path.dirname(script))
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 (reported as the script's failure)
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    with open(code_file + ".partial", "w") as fh:
        fh.write(str(code))
    os.rename(code_file + ".partial", code_file)
    signal.pause()


def wait(marker: str) -> None:
    deadline = time.monotonic() + float(config["timeout"])
    while not os.path.exists(marker):
        if time.monotonic() > deadline:
            print(f"the setup script was not done within {config['timeout']} s", file=sys.stderr)
            sys.exit(124)
        time.sleep(0.05)
    if marker == warm_file:
        return
    with open(out_file) as out, open(err_file) as err:
        sys.stdout.write(out.read())
        sys.stderr.write(err.read())
    with open(code_file) as fh:
        sys.exit(int(fh.read()))


serve() if mode == "serve" else wait(warm_file if mode == "warm" else code_file)

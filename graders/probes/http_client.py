"""Correctness probe: sends each hidden instance to the candidate's service and records what
came back. Runs in the grader image inside the evaluation pod; the expected answers never
enter the container (the grader compares on the host).

Usage: http_client.py PORT ENDPOINT SINGLE BATCH TIMEOUT [KEY]  (reads /grading/in/inputs.json)
KEY: the list of the answer to record, one value per instance (default: predictions).
"""

import json
import sys
import urllib.error
import urllib.request

port, endpoint, single, batch, timeout = sys.argv[1:6]
single, batch, timeout = int(single), int(batch), float(timeout)
key = sys.argv[6] if len(sys.argv) > 6 else "predictions"
with open("/grading/in/inputs.json") as fh:
    instances = json.load(fh)
url = f"http://127.0.0.1:{port}{endpoint}"


def post(rows):
    body = json.dumps({"instances": rows}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            payload = json.loads(resp.read(1 << 22) or b"null")
            return resp.status, payload
    except urllib.error.HTTPError as err:
        return err.code, err.read(2000).decode("utf-8", "replace")
    except Exception as err:  # timeouts, resets, bad JSON: all count as a wrong answer
        return None, f"{type(err).__name__}: {err}"


answers = [None] * len(instances)
problems = []
groups = [[i] for i in range(min(single, len(instances)))]
rest = list(range(len(groups), len(instances)))
groups += [rest[i : i + batch] for i in range(0, len(rest), batch)]
for group in groups:
    status, payload = post([instances[i] for i in group])
    predictions = payload.get(key) if isinstance(payload, dict) else None
    if status != 200 or not isinstance(predictions, list) or len(predictions) != len(group):
        problems.append(
            {
                "first_index": group[0],
                "size": len(group),
                "status": status,
                "response": str(payload)[:300],
            }
        )
        continue
    for i, value in zip(group, predictions, strict=True):
        answers[i] = value
with open("/grading/out/answers.json", "w") as fh:
    json.dump({"answers": answers, "problems": problems, "requests": len(groups)}, fh)

"""Load probe: locust at a steady rate against the candidate's service, recording every
request's exact response time through the request event (locust's own percentiles are rounded).

Users follow one shared schedule: user i sends at t0 + i/rate + k*users/rate, so together they
send an even stream at the target rate (a user whose response came late sends at once). With
locust's constant_throughput the users fell into lockstep here and the service saw bursts of
`users` simultaneous requests, which measures the burst, not the rate.
Runs headless in the grader image inside the evaluation pod; config and payloads come from
/grading/in, samples go to /grading/out.

Payloads are bodies POSTed to the config's endpoint, in turn. With "routed" in the config, each
payload is instead a request of its own: {"path", "body", "key", "record"} (key: the JSON list a
2xx must carry, null for any 2xx; record: keep the answer), so one schedule can mix endpoints;
the recorded answers go to /grading/out/answers.jsonl with the payload's index, checked on the
host (the expected answers never enter the pod).
"""

import csv
import itertools
import json
import time

import gevent
from locust import FastHttpUser, constant, events, task

with open("/grading/in/config.json") as fh:
    CONFIG = json.load(fh)
with open("/grading/in/payloads.json") as fh:
    PAYLOADS = json.load(fh)
NEXT = itertools.count()
USER_INDEX = itertools.count()
SAMPLES = []
RECORDED = []
META = {}


@events.test_start.add_listener
def on_start(environment, **_):
    META["start"] = time.time()


@events.request.add_listener
def on_request(response_time, exception, start_time=None, **_):
    error = "" if exception is None else str(exception)[:120]
    SAMPLES.append((start_time or time.time(), response_time, error))


@events.quitting.add_listener
def on_quit(environment, **_):
    with open("/grading/out/samples.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["start", "response_ms", "error"])
        writer.writerows(SAMPLES)
    with open("/grading/out/meta.json", "w") as fh:
        json.dump(META, fh)
    if CONFIG.get("routed"):
        with open("/grading/out/answers.jsonl", "w") as fh:
            fh.writelines(json.dumps(row) + "\n" for row in RECORDED)


def request_at(index):
    """(path, body, key, record) of the payload sent as request ``index``."""
    item = PAYLOADS[index % len(PAYLOADS)]
    if CONFIG.get("routed"):
        return item["path"], item["body"], item.get("key"), bool(item.get("record"))
    return CONFIG["endpoint"], item, CONFIG.get("json_key"), False


def answer_of(resp):
    try:
        return resp.json()
    except Exception:
        return None


class Client(FastHttpUser):
    wait_time = constant(0)
    network_timeout = CONFIG["timeout"]
    connection_timeout = CONFIG["timeout"]

    def on_start(self):
        META.setdefault("t0", time.time() + 0.5)
        self.slot = next(USER_INDEX)
        self.sent = 0

    def due(self):
        """When this user sends next (epoch seconds), or None when it has nothing to send."""
        period = CONFIG["users"] / CONFIG["rate"]
        due = META["t0"] + self.slot / CONFIG["rate"] + self.sent * period
        self.sent += 1
        return due

    @task
    def call(self):
        due = self.due()
        if due is None:
            gevent.sleep(1.0)
            return
        gevent.sleep(max(0.0, due - time.time()))
        index = next(NEXT)
        path, body, key, record = request_at(index)
        with self.client.post(path, json=body, catch_response=True) as resp:
            answer = answer_of(resp) if record or key else None
            if record:
                RECORDED.append({"index": index, "status": resp.status_code, "answer": answer})
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return
            if key and not (isinstance(answer, dict) and isinstance(answer.get(key), list)):
                resp.failure(f"2xx without a JSON list under {key!r}")
                return
            resp.success()

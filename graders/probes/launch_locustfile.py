"""Launch probe: locust drives the service through a launch profile (warm-up, baseline, ramp,
peak, spike) whose rate changes over time.

The grader computes when every request is due (/grading/in/schedule.json: seconds after t0,
rates linear within each phase) so the profile is one tested function on the host. Users take
the next due time from that shared schedule, so together they send the profile's rate whatever
their count (a user whose response came late sends at once). A LoadTestShape keeps the users
running and ends the test once every scheduled request was answered or timed out.

Request recording, the answer check and the output files (/grading/out/samples.csv, meta.json
with t0) are the steady probe's (locustfile.py, shipped beside this file), not copies.
"""

import itertools
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import locustfile as steady  # noqa: E402  (registers the request and quitting listeners)
from locust import LoadTestShape  # noqa: E402

with open("/grading/in/schedule.json") as fh:
    SCHEDULE = json.load(fh)
SLOT = itertools.count()
DRAIN_S = steady.CONFIG["timeout"] + 2.0
"""After the last due time, how long in-flight requests may take before the test ends."""


class LaunchClient(steady.Client):
    def due(self):
        index = next(SLOT)
        if index >= len(SCHEDULE):
            return None
        return steady.META["t0"] + SCHEDULE[index]


class LaunchShape(LoadTestShape):
    def tick(self):
        finished = len(steady.SAMPLES) >= len(SCHEDULE)
        over = self.get_run_time() > 1.0 + (SCHEDULE[-1] if SCHEDULE else 0.0) + DRAIN_S
        if finished or over:
            return None
        return (steady.CONFIG["users"], steady.CONFIG["users"])

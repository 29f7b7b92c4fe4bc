"""Example load test: single-row requests at a constant total rate against your own service.

    RATE=50 locust -f /workspace/loadtest/locustfile.py --headless -u 25 -r 25 -t 30s \
        -H http://127.0.0.1:8000 --only-summary

RATE is the total requests per second across all users (-u); every user sends RATE/u requests
per second, so use enough users that each one's requests fit in its share of time.
"""

import json
import os
import random
from pathlib import Path

from locust import HttpUser, constant_throughput, task

BODIES = json.loads((Path(__file__).parent / "sample_requests.json").read_text())
RATE = float(os.environ.get("RATE", "20"))


class Client(HttpUser):
    def wait_time(self) -> float:
        users = max(1, self.environment.parsed_options.num_users)
        return constant_throughput(RATE / users)(self)

    @task
    def predict(self) -> None:
        self.client.post("/predict", json=random.choice(BODIES))

"""Freshness probe: posts new and replacing documents to the candidate's service, one per
request, then polls its search until each is visible, measuring the time from the 200 of the
post to the first answer holding the document's id in the top k. For a replaced document, the
query of its old text is asked once, bound_s after its post: its id must be gone from the top k.
Runs in the grader image inside the evaluation pod; the host decides what was in time.

Usage: freshness_probe.py [ROOT]  (ROOT defaults to /grading; search_client.py lies beside it)
Reads ROOT/in/config.json {"port", "search", "documents", "k", "timeout", "bound_s", "grace_s",
"interval_s", "threads"} and ROOT/in/items.json {"added": [{"document", "query"}], "replaced":
[{"document", "old_query", "new_query"}]}; writes ROOT/out/answers.json {"added": [{"id",
"ack_status", "lag_s", "error"}], "replaced": [{... and "old_before", "old_gone"}]}.
lag_s is null when the document was not seen within bound_s + grace_s of its post.
"""

import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from search_client import post, search  # noqa: E402


class Probe:
    def __init__(self, config):
        self.config = config
        self.base = f"http://127.0.0.1:{config['port']}"

    def top(self, query):
        """(ids of the top k or None, error, monotonic time the answer came)."""
        c = self.config
        found = search(self.base, c["search"], query, c["k"], c["timeout"])
        return found["ids"], found["error"], time.monotonic()

    def publish(self, row, document):
        """POST one document; the row records the status and, on a 200, when it came."""
        c = self.config
        status, _, error = post(self.base + c["documents"], {"documents": [document]}, c["timeout"])
        row.update(ack_status=status, lag_s=None, error="" if status == 200 else error)
        row["acked"] = time.monotonic() if status == 200 else None

    def watch(self, checks, lock, publisher):
        """Run the checks (publisher adds them as it posts), each (row, kind, query, not_before):
        "appear" is polled until the id is in the top k (lag_s) or bound_s + grace_s passed;
        "gone" is asked once (old_gone)."""
        c = self.config
        give_up = c["bound_s"] + c["grace_s"]
        with ThreadPoolExecutor(c.get("threads", 4)) as pool:
            while publisher.is_alive() or checks:
                started = time.monotonic()
                with lock:
                    due = [check for check in checks if check[3] <= started]
                answers = list(pool.map(lambda check: self.top(check[2]), due))
                for check, (ids, error, at) in zip(due, answers, strict=True):
                    if self.settle(check, ids, error, at, give_up):
                        with lock:
                            checks.remove(check)
                time.sleep(max(0.0, c["interval_s"] - (time.monotonic() - started)))

    @staticmethod
    def settle(check, ids, error, at, give_up):
        """Record one answer to a check on its row; True when the check is done."""
        row, kind = check[0], check[1]
        hit = ids is not None and row["id"] in ids
        if error:
            row["error"] = error
        if kind == "gone":
            row["old_gone"] = ids is not None and not hit
            return True
        if hit:
            row["lag_s"] = round(at - row["acked"], 3)
            return True
        return at - row["acked"] > give_up


def main(root):
    with open(os.path.join(root, "in", "config.json")) as fh:
        config = json.load(fh)
    with open(os.path.join(root, "in", "items.json")) as fh:
        items = json.load(fh)
    probe = Probe(config)
    added = [{"id": item["document"]["id"]} for item in items["added"]]
    replaced = [{"id": item["document"]["id"], "old_gone": None} for item in items["replaced"]]
    plan = []
    for row, item in zip(added, items["added"], strict=True):
        plan.append((row, item["document"], [("appear", item["query"], 0.0)]))
    for row, item in zip(replaced, items["replaced"], strict=True):
        ids, _, _ = probe.top(item["old_query"])
        row["old_before"] = ids is not None and row["id"] in ids
        gone_after = config["bound_s"]
        wanted = [("appear", item["new_query"], 0.0), ("gone", item["old_query"], gone_after)]
        plan.append((row, item["document"], wanted))
    checks, lock = [], threading.Lock()

    def publish_all():
        """Post the documents one per request while the watcher polls the ones posted."""
        for row, document, wanted in plan:
            probe.publish(row, document)
            if row["acked"] is not None:
                with lock:
                    checks.extend((row, kind, q, row["acked"] + after) for kind, q, after in wanted)

    publisher = threading.Thread(target=publish_all)
    publisher.start()
    probe.watch(checks, lock, publisher)
    publisher.join()
    for row in added + replaced:
        row.pop("acked", None)
    os.makedirs(os.path.join(root, "out"), exist_ok=True)
    with open(os.path.join(root, "out", "answers.json"), "w") as fh:
        json.dump({"added": added, "replaced": replaced}, fh)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/grading")

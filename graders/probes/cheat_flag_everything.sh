#!/usr/bin/env bash
# Cheat: a review that flags every line the pull request added or changed as a blocker, so
# that every seeded defect is "found" whatever it is. Reads .cheat/review.json in the workspace
# (the folder above this script's): a list of {file, repo, base, head, categories}, one per
# review grader; file and repo are relative to the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import json
import re
import subprocess

HUNK = re.compile(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@")
COMMENT = "this change is risky and needs another look before it ships"

for target in json.load(open(".cheat/review.json")):
    diff = subprocess.run(
        ["git", "-c", "safe.directory=*", "-C", target["repo"], "diff", "--unified=0",
         "--no-color", "--no-ext-diff", "--no-renames", target["base"], target["head"]],
        capture_output=True, text=True, check=True,
    ).stdout
    findings, path = [], None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else None  # None: a deleted file
            continue
        hunk = HUNK.match(line)
        if hunk and path is not None:
            start, count = int(hunk.group(1)), int(hunk.group(2) or 1)
            findings += [(path, number) for number in range(start, start + count)]
    categories = target["categories"]
    lines = ["---", "verdict: request_changes", "findings:"]
    for index, (path, number) in enumerate(findings):
        finding = {"file": path, "line": number, "category": categories[index % len(categories)],
                   "severity": "blocker", "comment": COMMENT}
        lines.append(f"  - {json.dumps(finding)}")
    lines += ["---", "", "# Review", "", "Every changed line needs another look.", ""]
    with open(target["file"], "w") as out:
        out.write("\n".join(lines))
    print(f"flagged {len(findings)} changed lines in {target['file']}")
PY

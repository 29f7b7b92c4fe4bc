#!/usr/bin/env bash
# A reviewer who does not trust the change and backs all of it out: every commit of the pull
# request reverted on ai/change, and a review that asks for changes without saying which.
set -euo pipefail
cd /workspace/repo
git checkout --quiet ai/change
git revert --no-edit main..ai/change >/dev/null
cat > /workspace/review.md <<'REVIEW'
---
verdict: request_changes
findings: []
---

Too big and too risky to review in one go: I have reverted it. Please split it into smaller
pull requests and we can look again.
REVIEW

#!/usr/bin/env bash
# Calibration submission "wrong-root-cause" (never shown to candidates); it faces the
# latency-regression fault. The on-call engineer reacts fast and fixes the right thing: the
# canaries are slow, the worker burns its one CPU on per-request explanations, so they turn
# `explain` off in service/config.yaml, restart, and check that predictions are fast again.
# But they never ask what changed (they do not compare the `startup config` lines): they read
# it as the service lacking CPU for its load, so the postmortem files it under `capacity`, not
# `latency_regression` (a config push that turned explanations on), and its prevention items
# (more CPU, autoscaling) would not stop the next bad config push. Expected: passes, with the
# postmortem's root-cause points lost (score about 85).
set -uo pipefail
cd /workspace
LOG=service/logs/service.log
now() { date -u +%FT%TZ; }

# Wait for the pager: slow /predict lines in the log (hundreds of ms or more), up to 5 minutes.
for _ in $(seq 150); do
    if tail -n 20 "$LOG" 2>/dev/null | grep -qE 'POST /predict [0-9]+ [0-9]{3,}\.[0-9]ms'; then
        break
    fi
    sleep 2
done
detected_at=$(now)
echo "$detected_at paged: slow predictions"
svcctl status
svcctl logs -n 20
svcctl metrics | grep -E "latency|resident"
svcctl config

# The worker computes Shapley explanations for every request: far too much CPU for one core
# at this rate. Nobody downstream needs them to score customers: turn them off.
sed -i 's/^explain: true/explain: false/' service/config.yaml
grep -n '^explain' service/config.yaml
svcctl restart
for _ in 1 2 3 4 5; do
    svcctl predict '{"instances": [{"tenure_months": 24, "monthly_charges": 70.5, "support_tickets": 1, "sessions_per_week": 4.0, "avg_session_minutes": 20.0, "days_since_last_login": 5, "discount_pct": 15.0, "num_devices": 2}]}' | head -1
done
mitigated_at=$(now)
echo "$mitigated_at predictions fast again"

cat > postmortem.md <<MD
---
root_cause: capacity
detected_at: $detected_at
mitigated_at: $mitigated_at
---

# Postmortem: churn-svc too slow under load

## Summary

churn-svc answered /predict far slower than the 250 ms SLO: the single worker CPU could not
keep up with computing per-request explanations at production traffic. Turning the
explanations off brought latency back to a few milliseconds.

## Timeline

- $detected_at slow \`POST /predict\` lines (seconds each) in service.log; p95 far above SLO in \`svcctl metrics\`
- $detected_at \`svcctl config\`: \`explain: true\`, Shapley values computed on every request
- $mitigated_at set \`explain: false\`, \`svcctl restart\`; test predictions answered in milliseconds

## Root cause

The service is CPU-bound: with explanations on, every prediction evaluates the model on every
coalition of features against a background sample, which takes most of a second of CPU. With
one CPU and a request every second, the worker was saturated and requests queued up, so
latency went far past the SLO. The service does not have the capacity to explain every
prediction at this rate.

## Mitigation

Set \`explain: false\` in service/config.yaml and restarted the worker with \`svcctl restart\`.
Checked five test predictions: HTTP 200 in a few milliseconds each.

## Prevention

- Give the worker more CPU (2 cores) and run two worker processes.
- Autoscale on CPU utilisation and /predict p95 latency.
- Alert when /predict p95 latency exceeds 250 ms for a minute.
MD
echo "wrote postmortem.md"

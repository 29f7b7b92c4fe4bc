#!/usr/bin/env bash
# Calibration submission "restart-only" (never shown to candidates); it faces the memory-leak
# fault. The on-call engineer treats the symptom: the log shows the worker being OOM-killed, so
# they restart it, see /health answer, memory back at its baseline and a test prediction
# succeed, call the incident resolved and write a tidy postmortem that says so. They never ask
# what changed: the deploy turned `trace_requests` on in service/config.yaml, which stays on,
# so the fresh worker leaks again and is OOM-killed within a minute. The service is never
# restored, the postmortem's mitigated_at is contradicted by the prober, and the submitted
# workspace still carries the leaking config. Expected: does not pass.
set -uo pipefail
cd /workspace
LOG=service/logs/service.log
now() { date -u +%FT%TZ; }

# Wait for the pager: watch the log for the worker dying (up to 5 minutes).
for _ in $(seq 150); do
    if grep -q "worker killed by signal 9" "$LOG" 2>/dev/null; then
        break
    fi
    sleep 2
done
detected_at=$(now)
echo "$detected_at paged"
svcctl status
svcctl logs -n 30
svcctl metrics | grep -E "resident|requests_total"

# The worker keeps dying of OOM: give it a clean restart and check it answers.
svcctl restart
sleep 5
svcctl status
svcctl metrics | grep -E "resident"
svcctl predict '{"instances": [{"tenure_months": 24, "monthly_charges": 70.5, "support_tickets": 1, "sessions_per_week": 4.0, "avg_session_minutes": 20.0, "days_since_last_login": 5, "discount_pct": 15.0, "num_devices": 2}]}'
mitigated_at=$(now)
echo "$mitigated_at service healthy again"

cat > postmortem.md <<MD
---
root_cause: memory_leak
detected_at: $detected_at
mitigated_at: $mitigated_at
---

# Postmortem: churn-svc worker OOM-killed repeatedly

## Summary

The churn-svc worker ran out of memory and was killed by the kernel (signal 9) several times
in a row; the supervisor restarted it each time, and requests failed while it was down. A
clean restart with \`svcctl restart\` brought the service back and it answered normally.

## Timeline

- $detected_at noticed \`worker killed by signal 9\` lines in service.log (OOM kills)
- $detected_at checked \`svcctl status\`, the last log lines and the worker's resident memory
- $mitigated_at \`svcctl restart\`; /health ok, memory back to its baseline, test prediction 200

## Root cause

The worker's resident memory grew with the requests it served until it hit the container's
384 MiB limit and was OOM-killed (\`worker killed by signal 9\` in the log, memory climbing in
\`svcctl metrics\` before each kill). This looks like a memory leak in the worker; the exact
code path is still unknown.

## Mitigation

Restarted the worker with \`svcctl restart\`, which starts it with a fresh heap. Checked
\`svcctl status\` (healthy), the resident memory (back to baseline) and a test prediction
(HTTP 200).

## Prevention

- Alert on worker restarts and on resident memory above 300 MiB.
- Schedule a periodic restart of the worker until the leak is found.
- Profile the worker's memory under load to find the leak.
MD
echo "wrote postmortem.md"

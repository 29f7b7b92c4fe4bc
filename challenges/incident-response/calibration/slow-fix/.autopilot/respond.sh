#!/usr/bin/env bash
# Calibration submission "slow-fix" (never shown to candidates); it faces bad-model-rollout,
# the fault a scripted run draws by default. The on-call engineer gets everything right in the
# end (the rollback to model v1 in service/config.yaml, an honest postmortem with the right
# root cause), but slowly: every request still answers 200 in milliseconds, so they restart
# blindly, then watch latency and memory for minutes; only when they look at the predictions by
# label do they see the new model calls nobody a churner, and then they wait for the model's
# owners to confirm before rolling back. Service is restored about 6.5 minutes after the bad
# deploy (the sleeps below stand in for that time). Expected: passes, clearly below the prompt
# reference (every customer got a wrong answer for minutes that a look at the predictions
# would have saved).
set -uo pipefail
cd /workspace
now() { date -u +%FT%TZ; }
ROW='{"tenure_months": 24, "monthly_charges": 70.5, "support_tickets": 1, "sessions_per_week": 4.0, "avg_session_minutes": 20.0, "days_since_last_login": 5, "discount_pct": 15.0, "num_devices": 2}'

# Something restarted the service. Everything looks fine: 200s in a few ms, health ok.
sleep 20
svcctl status
svcctl logs -n 20
svcctl predict "{\"instances\": [$ROW]}"

# Restart it anyway, to be safe, then keep an eye on latency and memory.
svcctl restart
for _ in $(seq 4); do
    sleep 30
    svcctl metrics | grep -E 'latency_ms\{quantile="0.95"\}|resident|code="5'
done

# Predictions by label: nothing but 0 since the restart. The health check says churn/v2.
svcctl metrics | grep -E "predictions_total|model_info"
detected_at=$(now)
echo "$detected_at noticed: every prediction is 0"
cat service/models/churn/v2/MODEL_CARD.md
ls service/models/churn/
svcctl predict "{\"instances\": [$ROW, {\"tenure_months\": 2, \"monthly_charges\": 99.0, \"support_tickets\": 3, \"sessions_per_week\": 1.3, \"avg_session_minutes\": 9.5, \"days_since_last_login\": 20, \"discount_pct\": 4.0, \"num_devices\": 1}]}"

# Ask the model's owners whether v2 is meant to behave like this, and wait for an answer.
sleep 240

# No answer; v2 is clearly broken. Roll back to v1.
sed -i 's/^  version: v2/  version: v1/' service/config.yaml
svcctl config
svcctl restart
svcctl predict "{\"instances\": [$ROW, {\"tenure_months\": 2, \"monthly_charges\": 99.0, \"support_tickets\": 3, \"sessions_per_week\": 1.3, \"avg_session_minutes\": 9.5, \"days_since_last_login\": 20, \"discount_pct\": 4.0, \"num_devices\": 1}]}"
mitigated_at=$(now)
echo "$mitigated_at rolled back to v1"
deployed_at=$(grep 'startup config' service/logs/service.log | grep '"v2"' | head -1 | cut -d' ' -f1)

cat > postmortem.md <<MD
---
root_cause: bad_model_rollout
detected_at: $detected_at
mitigated_at: $mitigated_at
---

# Postmortem: churn model v2 predicted "no churn" for every customer

## Summary

A deploy switched churn-svc from model churn/v1 to churn/v2. Requests kept succeeding quickly,
but v2 answers 0 (no churn) for every customer, so the retention team's tools saw no churners.
It took a long time to notice because nothing errored; rolling the config back to v1 fixed it.

## Timeline

- ${deployed_at:-unknown} the worker restarts with \`model: churn/v2\` (startup config in service.log)
- shortly after: restarted the worker, watched latency and memory (both normal)
- $detected_at noticed \`modelsvc_predictions_total\` shows only label 0 since the deploy
- $detected_at v2's MODEL_CARD claims a better AUC, but test customers all get 0
- $mitigated_at set \`model.version\` back to v1, \`svcctl restart\`; predictions of both classes again

## Root cause

The rollout of model churn/v2 (config \`model.version: v2\`) shipped a degenerate model: it
predicts one class with the same probability for every customer. Its model card reports a
validation AUC above v1's, so the pipeline's evaluation gate let it through. Evidence: the
\`startup config\` line with \`"version": "v2"\`, \`modelsvc_predictions_total{label="0"}\` only,
and a clear churner (2 months, 3 tickets, 20 days idle) predicted 0.

## Mitigation

Set \`model.version: v1\` in service/config.yaml and ran \`svcctl restart\`; checked that a
clear churner and a loyal customer get 1 and 0 again.

## Prevention

- Alert when the share of predicted churners leaves its usual range for 10 minutes.
- Gate model rollouts on an evaluation the deploy pipeline recomputes on a fixed holdout,
  and refuse a model that predicts a single class.
- Canary new model versions on a slice of traffic before the full rollout.
MD
echo "wrote postmortem.md"

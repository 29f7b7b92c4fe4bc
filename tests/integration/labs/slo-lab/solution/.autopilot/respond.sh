#!/bin/bash
# The lab's responder: notice the broken mode, fix it, write the postmortem.
set -euo pipefail
cd /workspace
detected=$(date -u +%Y-%m-%dT%H:%M:%SZ)
case $(cat mode) in
    slow) root_cause=latency_regression ;;
    wrong) root_cause=bad_model_rollout ;;
    *) root_cause=config_schema_change ;;
esac
echo ok > mode
mitigated=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat > postmortem.md <<DOC
---
root_cause: $root_cause
detected_at: $detected
mitigated_at: $mitigated
---
## Summary
The service misbehaved after a bad mode was deployed.

## Timeline
- $detected: the prober's canaries failed
- $mitigated: mode restored

## Root cause
A deploy changed the mode.

## Mitigation
Set the mode back to ok.

## Prevention
- Validate the mode before deploying it.
- Alert on the error rate.
DOC

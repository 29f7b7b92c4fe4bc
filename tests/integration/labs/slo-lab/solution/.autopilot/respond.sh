#!/bin/bash
# The lab's responder: notice the broken mode, fix it, write the postmortem.
set -euo pipefail
cd /workspace
detected=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo ok > mode
mitigated=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat > postmortem.md <<DOC
---
root_cause: config_schema_change
detected_at: $detected
mitigated_at: $mitigated
---
## Summary
The service answered HTTP 500 to every request after a bad mode was deployed.

## Timeline
- $detected: errors seen
- $mitigated: mode restored

## Root cause
A deploy set the mode to error.

## Mitigation
Set the mode back to ok.

## Prevention
- Validate the mode before deploying it.
- Alert on the error rate.
DOC

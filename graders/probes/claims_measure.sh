#!/bin/sh
# Measures a pull request's checkable claims: clones the base and the head commit from the
# bundle and runs the harness once on both checkouts, which it measures side by side.
# usage: claims_measure.sh BUNDLE HARNESS DATA BASE_COMMIT HEAD_COMMIT
# The harness writes /grading/out/base.json and /grading/out/head.json.
set -eu
bundle=$1 harness=$2 data=$3 base=$4 head=$5
for which in base head; do
    if [ "$which" = base ]; then commit=$base; else commit=$head; fi
    dest=/tmp/pp-claims-$which
    git clone --quiet --no-checkout "$bundle" "$dest"
    git -C "$dest" checkout --quiet "$commit"
done
python -I "$harness" "$data" /grading/out /tmp/pp-claims-base /tmp/pp-claims-head

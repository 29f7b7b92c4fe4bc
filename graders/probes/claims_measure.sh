#!/bin/sh
# Measures a pull request's checkable claims: clones the base and the head commit from the
# bundle and runs the harness on each checkout the same way.
# usage: claims_measure.sh BUNDLE HARNESS DATA BASE_COMMIT HEAD_COMMIT
# The harness writes /grading/out/base.json and /grading/out/head.json.
set -eu
bundle=$1 harness=$2 data=$3 base=$4 head=$5
for which in base head; do
    if [ "$which" = base ]; then commit=$base; else commit=$head; fi
    dest=/tmp/pp-claims-$which
    git clone --quiet --no-checkout "$bundle" "$dest"
    git -C "$dest" checkout --quiet "$commit"
    python -I "$harness" "$dest" "$data" "/grading/out/$which.json"
done

#!/bin/sh
# Runs the hidden tests on the committed BRANCH of the git repository REPO (uncommitted changes
# are not graded): a clone of that branch only, at $REPO for the tests' conftest.
# usage: fixes_tests.sh REPO BRANCH COMMAND...   (COMMAND: pytest, run with REPO set)
# Leaves in /grading/out: head.txt (the branch's commit), status.txt (git status --porcelain of
# the working tree) and what COMMAND writes, or problem.txt saying why the tests did not run.
set -u
repo=$1 branch=$2
shift 2
out=/grading/out clone=/tmp/pp-fixes-clone
# The workspace may belong to another uid than the tester's; never look above /workspace.
export GIT_CONFIG_GLOBAL=/grading/gitconfig GIT_CONFIG_NOSYSTEM=1 GIT_CEILING_DIRECTORIES=/workspace
if ! git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
    echo "$repo is not a git repository" >"$out/problem.txt"
    exit 0
fi
if ! git -C "$repo" rev-parse --verify --quiet "refs/heads/$branch^{commit}" >"$out/head.txt"; then
    echo "$branch is not a branch of $repo" >"$out/problem.txt"
    exit 0
fi
git --no-optional-locks -C "$repo" status --porcelain >"$out/status.txt" 2>&1
if ! git clone --quiet --branch "$branch" --single-branch -- "$repo" "$clone" 2>"$out/clone.txt"; then
    echo "cloning $branch of $repo failed: $(tail -c 400 "$out/clone.txt")" >"$out/problem.txt"
    exit 0
fi
export REPO="$clone"
exec "$@"

#!/usr/bin/env bash
# Wall time of a 4-job sweep: Hydra's basic launcher (one job after the other), joblib with 2 workers
# and trainkit's per-job thread limit (cores / 2), and joblib with 2 workers each using every core
# (trainer.threads=2 on a 2-core machine: the oversubscription the limit avoids).
# Rounds interleave the three; each sweep is a fresh `trainkit train -m` process.
#   bash benchmarks/sweep_threads.sh [rounds]      (needs: pip install "trainkit[sweeps]")
set -euo pipefail
ROUNDS="${1:-2}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
COMMON=(data=digits 'model.hidden_sizes=[256,256]' trainer.max_epochs=3 callbacks.progress.enabled=false
        callbacks.tensorboard.enabled=false lr=0.01,0.02,0.03,0.05)
run() {
    local name=$1; shift
    rm -rf runs
    local t0; t0=$(date +%s.%N)
    trainkit train -m "$@" "${COMMON[@]}" > /dev/null 2>&1
    local t1; t1=$(date +%s.%N)
    printf '%-20s %7.1f s   load %s\n' "$name" "$(echo "$t1 - $t0" | bc)" "$(cut -d' ' -f1 /proc/loadavg)"
}
for _ in $(seq "$ROUNDS"); do
    run basic
    run joblib2_limited hydra/launcher=joblib hydra.launcher.n_jobs=2
    run joblib2_unlimited hydra/launcher=joblib hydra.launcher.n_jobs=2 trainer.threads=2
done

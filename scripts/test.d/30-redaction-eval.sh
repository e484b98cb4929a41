#!/usr/bin/env bash
# Redaction against Presidio, small: fails unless our engine's F1 beats
# Presidio's on our corpus and on presidio-evaluator's generated sentences
# (eval/redaction/eval.py). The full-size run is in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
PER_CELL=10 FAKER_N=600 BENCH_MB=0 bash eval/redaction/run.sh

#!/usr/bin/env bash
# Evaluation of the redaction engine against Presidio (see eval.py). Prints
# per-kind precision/recall/F1 tables for both engines on our corpus and on
# presidio-evaluator's generated sentences, then Presidio's throughput.
#   PER_CELL  corpus samples per kind and form (default 40)
#   FAKER_N   presidio-evaluator sentences (default 2000)
#   BENCH_MB  MB of transcript for Presidio's throughput, 0 to skip (default 1)
set -euo pipefail
cd "$(dirname "$0")/../.."

target=${CARGO_TARGET_DIR:-target}
venv="$target/redaction-eval-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check presidio-analyzer==2.2.366 presidio-evaluator==0.3.2

cargo build -q --release -p tollgate-redact --features corpus --examples
bin="$target/release/examples"
"$bin/corpus" jsonl 42 "${PER_CELL:-40}" > "$target/redaction-corpus.jsonl"
extra=()
if [ "${BENCH_MB:-1}" != 0 ]; then
  "$bin/corpus" transcript 2026 "${BENCH_MB:-1}" > "$target/redaction-transcript.txt"
  extra=(--transcript "$target/redaction-transcript.txt")
fi
"$venv/bin/python" eval/redaction/eval.py --driver "$bin/redact_jsonl" \
  --corpus "$target/redaction-corpus.jsonl" --faker "${FAKER_N:-2000}" "${extra[@]}"

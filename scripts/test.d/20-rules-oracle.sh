#!/usr/bin/env bash
# Oracle test of the calling-hours location tables (crates/rules): compares the
# crate's candidate zones and states for every area code and ZIP prefix with
# two independent PyPI libraries. See e2e/oracle/zones_oracle.py.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=${CARGO_TARGET_DIR:-target}
venv="$target/rules-oracle-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# Pinned: the data in rules/ was generated from these versions
# (rules/tools/generate_location_tables.py); bump both together.
"$venv/bin/pip" install -q --disable-pip-version-check phonenumbers==9.0.43 zipcodes==3.0.0

candidates="$target/rules-oracle-candidates.csv"
cargo run -q -p tollgate-rules --example zones > "$candidates"
"$venv/bin/python" e2e/oracle/zones_oracle.py "$candidates"

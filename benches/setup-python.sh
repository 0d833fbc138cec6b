#!/usr/bin/env bash
# Installs the reference pipeline's Python packages into .venv-bench (for benches/*.sh only; tests do not need it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-bench/bin/python ] || python3 -m venv .venv-bench
.venv-bench/bin/pip install --quiet 'pandas>=2.3,<3' 'lightgbm==4.7.0' scikit-learn

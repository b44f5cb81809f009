#!/usr/bin/env bash
# Runs the whole Trellis test suite on a fresh Debian machine: installs what is missing
# (cmake and libclang for llama.cpp, the bundled model), then builds and tests every crate
# against the real model and real llama.cpp.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --bindings
bash scripts/install-model.sh >/dev/null

# Real-model tests share 2 cores: sleeping (not spinning) OpenMP workers keep parallel
# sessions from starving each other.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

echo "== cargo test (workspace) =="
cargo test --workspace --locked -- --test-threads=1

echo "== Bindings: Python, Kotlin, Swift checks (UniFFI, real model) =="
bash scripts/test-bindings.sh

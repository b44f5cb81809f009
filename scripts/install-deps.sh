#!/usr/bin/env bash
# Installs the system packages Trellis needs to build llama.cpp (cmake, libclang for bindgen),
# when they are missing; with --bindings also what the bindings tests need (JDK, JNA, npm).
# Debian/Ubuntu (apt). Safe to run repeatedly.
#
#   scripts/install-deps.sh              build packages (the demo)
#   scripts/install-deps.sh --bindings   build packages + bindings test packages (the tests)
set -euo pipefail
log() { printf '[install-deps] %s\n' "$*" >&2; }

bindings=0
case "${1:-}" in
  "") ;;
  --bindings) bindings=1 ;;
  *) echo "usage: $0 [--bindings]" >&2; exit 2 ;;
esac

missing=()
command -v cmake >/dev/null || missing+=(cmake)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/*/libclang*.so* >/dev/null 2>&1 || missing+=(libclang-dev)
command -v c++ >/dev/null || missing+=(g++)
command -v python3 >/dev/null || missing+=(python3 python3-pip)
# Bindings tests (scripts/test-bindings.sh): a JDK and JNA for the Kotlin tests, npm to
# fetch the Kotlin compiler, a C compiler for the Swift header check (g++ above brings gcc).
if [ "$bindings" = 1 ]; then
  command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
  [ -f /usr/share/java/jna.jar ] || missing+=(libjna-java)
  command -v npm >/dev/null || missing+=(npm)
fi
command -v cargo >/dev/null || { log "cargo is required: install Rust from your distribution or rustup"; exit 1; }

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  log "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
log "system packages ok"

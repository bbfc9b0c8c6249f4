#!/usr/bin/env bash
# The test command: installs the system libraries, fetches SmolLM2 and Qwen2.5-Coder-0.5B (for the end-to-end checks),
# Gemma-3-270m (its tokenizer) and llama.cpp's tokenizer test suite, then runs every test in a release build (the real-model checks and the mpirun
# runs are seconds in release, minutes in debug).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh
export MOP_SMOLLM2_GGUF="${MOP_SMOLLM2_GGUF:-$(scripts/fetch-model.sh)}"
export MOP_QWEN05_GGUF="${MOP_QWEN05_GGUF:-$(scripts/fetch-model.sh qwen2.5-0.5b)}"
export MOP_GEMMA3_GGUF="${MOP_GEMMA3_GGUF:-$(scripts/fetch-model.sh gemma3-270m)}"
export MOP_TOKENIZER_SUITE="${MOP_TOKENIZER_SUITE:-$(scripts/fetch-tokenizer-suite.sh)}"
export MOP_SHARED_DATA="${MOP_SHARED_DATA:-$root/../shared/data}"
# mpirun as root (CI and these machines run as root) needs these two.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
swift build -c release -Xswiftc -enable-testing
# XCTest only: an empty Swift Testing run would print a "0 tests" closing line after the real one.
swift test -c release -Xswiftc -enable-testing --disable-swift-testing "$@"

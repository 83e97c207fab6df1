#!/usr/bin/env bash
# Runs every test: installs what is missing, builds with warnings as errors, runs
# the unit, service and real-server tests (each test starts and removes its own
# PostgreSQL and Redis on free loopback ports), fuzzes the parsers and validators
# for a bounded time (fuzz/run.sh), and validates the Kubernetes manifests, and
# runs the partner examples (examples/) against a local stack of their own.
# Nothing is left running afterwards.
set -euo pipefail
source "$(dirname "$0")/common.sh"

install_packages
build -DSAMPLAN_WERROR=ON

log "running the test suite"
cd "$BUILD_DIR"
ctest --output-on-failure --parallel 2 --timeout 900

log "fuzzing the parsers and validators (clang, ASan, UBSan)"
bash "$ROOT/fuzz/run.sh"

log "running the partner examples against the local stack"
bash "$ROOT/examples/run_examples_test.sh"

log "validating the Kubernetes manifests"
bash "$ROOT/k8s/validate/run.sh"

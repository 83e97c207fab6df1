#!/usr/bin/env bash
# Tests the gateway as users meet it, against a local stack of its own (real
# services over real PostgreSQL and Redis, started by deploy/local/start.sh on
# free ports): the HTTP/JSON API of every service (http.test.mjs), the OpenAPI
# document by an independent validator (openapi.test.mjs), and the pages in
# headless Chromium (pages.test.mjs). Screenshots of each page go to
# $SAMPLAN_SCREENSHOTS (default: build/gateway-screenshots).
#
#   run.sh [test file...]     default: every *.test.mjs here
#
# SAMPLAN_TEST_PORT_BASE picks the eighteen ports (default: a free range).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../../../deploy/local/common.sh"

WORK="$(mktemp -d /tmp/samplan-gateway-test.XXXXXX)"
export SAMPLAN_STATE_DIR="$WORK/state"
export SAMPLAN_BUILD_DIR="$BUILD_DIR"
export SAMPLAN_SCREENSHOTS="${SAMPLAN_SCREENSHOTS:-$BUILD_DIR/gateway-screenshots}"

fail() {
  printf 'gateway test FAILED: %s\n' "$*" >&2
  for f in "$SAMPLAN_STATE_DIR"/logs/*.log; do
    [ -s "$f" ] && { printf -- '--- %s\n' "${f##*/}" >&2; tail -15 "$f" >&2; }
  done
  exit 1
}

cleanup() {
  local rc=$?
  set +e
  if [ -d "$SAMPLAN_STATE_DIR" ]; then
    bash "$ROOT/deploy/local/stop.sh" >"$WORK/stop.log" 2>&1 || { cat "$WORK/stop.log" >&2; [ "$rc" -ne 0 ] || rc=1; }
    STATE_DIR="$SAMPLAN_STATE_DIR" pg_dirs
    case "$PG_DATA" in /var/lib/samplan-local/*) rm -rf "$(dirname "$PG_DATA")" ;; esac
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The layout of examples/run_examples_test.sh: PostgreSQL +0, Redis +1, services
# +2..+8 (gateway +8), metrics from +9, calendar feeds +16, the SMTP sink +17 —
# every port of the stack, so a second stack on the machine (the examples, a
# developer's own) cannot collide with this one.
pick_ports() {
  local base i
  if [ -n "${SAMPLAN_TEST_PORT_BASE:-}" ]; then PORT_BASE=$SAMPLAN_TEST_PORT_BASE; return 0; fi
  for _ in $(seq 50); do
    base=$((20000 + RANDOM % 20000))
    for i in $(seq 0 17); do port_in_use $((base + i)) && continue 2; done
    PORT_BASE=$base
    return 0
  done
  return 1
}
pick_ports || fail "found no eighteen free consecutive ports"
export SAMPLAN_PG_PORT=$PORT_BASE SAMPLAN_REDIS_PORT=$((PORT_BASE + 1))
export SAMPLAN_CASEPLAN_PORT=$((PORT_BASE + 2)) SAMPLAN_IDENTITY_PORT=$((PORT_BASE + 3))
export SAMPLAN_EVENTS_PORT=$((PORT_BASE + 4)) SAMPLAN_PLACEMENT_PORT=$((PORT_BASE + 5))
export SAMPLAN_SCHEDULING_PORT=$((PORT_BASE + 6)) SAMPLAN_SCHEDULING_FEED_PORT=$((PORT_BASE + 16))
export SAMPLAN_SURVEYS_PORT=$((PORT_BASE + 7)) SAMPLAN_GATEWAY_PORT=$((PORT_BASE + 8))
export SAMPLAN_METRICS_PORT=$((PORT_BASE + 9)) SAMPLAN_SMTP_PORT=$((PORT_BASE + 17))

SAMPLAN_SKIP_BUILD=1 timeout 600 bash "$ROOT/deploy/local/start.sh" >"$WORK/start.out" 2>&1 ||
  { tail -30 "$WORK/start.out" >&2; fail "deploy/local/start.sh failed"; }
if [ ! -d "$HERE/node_modules" ] || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
  timeout 300 npm --prefix "$HERE" ci --no-audit --no-fund --loglevel=error >"$WORK/npm.out" 2>&1 ||
    { cat "$WORK/npm.out" >&2; fail "npm ci in services/gateway/test failed"; }
fi

export GATEWAY="http://127.0.0.1:$SAMPLAN_GATEWAY_PORT"
export TOKENS="$SAMPLAN_STATE_DIR/tokens"
# What the demo printed: plan 3 (fk takes part without the person's consent) and
# the placement need it matched.
export PLAN3="$(grep -o 'Who may read plans/[^ ]*' "$WORK/start.out" | head -1 | cut -d' ' -f4)"
export NEED="$(grep -o 'placementNeeds/[A-Za-z0-9-]*' "$WORK/start.out" | head -1)"
[ -n "$PLAN3" ] || fail "the demo printed no plan 3"
mkdir -p "$SAMPLAN_SCREENSHOTS"

cd "$HERE"
if [ $# -eq 0 ]; then set -- *.test.mjs; fi
timeout 600 node --test --test-concurrency=1 "$@" || fail "node --test $*"

#!/usr/bin/env bash
# Runs the partner examples (python/, node/) against a local stack of their own and
# checks the resume contract: each client prints a change as af, is killed with
# SIGKILL, misses three more changes, and after a restart prints exactly those three
# versions, in order, with nothing it printed before the kill printed again.
#
# The stack runs under a throwaway state folder on free ports and is stopped and
# removed on exit. Quiet on success; on failure says what and shows the logs.
# Used by deploy/local/test.sh; runs alone too (it builds through start.sh).
set -euo pipefail
source "$(dirname "$0")/../deploy/local/common.sh"

PYTHON="${SAMPLAN_PYTHON:-/usr/bin/python3}"  # Debian's, which sees python3-grpcio
WAIT="${SAMPLAN_EXAMPLES_WAIT:-30}"           # seconds for any one thing to happen

WORK="$(mktemp -d /tmp/samplan-examples.XXXXXX)"
export SAMPLAN_STATE_DIR="$WORK/state"
export SAMPLAN_BUILD_DIR="$BUILD_DIR"
CLIENT_PID=""

fail() {
  printf 'examples test FAILED: %s\n' "$*" >&2
  for f in "$WORK"/python.*.out "$WORK"/node.*.out "$WORK"/*.err; do
    [ -s "$f" ] && { printf -- '--- %s\n' "${f##*/}" >&2; tail -20 "$f" >&2; }
  done
  for f in "$SAMPLAN_STATE_DIR"/logs/*.log; do
    [ -s "$f" ] && { printf -- '--- %s\n' "${f##*/}" >&2; tail -10 "$f" >&2; }
  done
  exit 1
}

cleanup() {
  local rc=$?
  set +e  # clean up as much as can be
  [ -n "$CLIENT_PID" ] && { kill -9 "$CLIENT_PID"; wait "$CLIENT_PID"; } 2>/dev/null
  if [ -d "$SAMPLAN_STATE_DIR" ]; then
    if ! bash "$ROOT/deploy/local/stop.sh" >"$WORK/stop.log" 2>&1; then
      printf 'examples test FAILED: stopping the stack failed\n' >&2
      cat "$WORK/stop.log" >&2
      [ "$rc" -ne 0 ] || rc=1
    fi
    # As root, PostgreSQL's data may live outside the state folder (see pg_dirs).
    STATE_DIR="$SAMPLAN_STATE_DIR" pg_dirs
    case "$PG_DATA" in /var/lib/samplan-local/*) rm -rf "$(dirname "$PG_DATA")" ;; esac
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Eighteen free consecutive loopback ports, so that the stack never meets a local
# one on its default ports: PostgreSQL, Redis, then the services from +2
# (caseplan, identity, events, placement, scheduling +6, surveys +7, gateway +8),
# their metrics from +9 (deploy/local/start.sh numbers the metrics ports from
# there), scheduling's calendar feeds at +16 and the SMTP sink at +17.
# SAMPLAN_EXAMPLES_PORT_BASE pins the range's start, for a machine where each
# user has a range of their own.
pick_ports() {
  local base i
  if [ -n "${SAMPLAN_EXAMPLES_PORT_BASE:-}" ]; then
    base=$SAMPLAN_EXAMPLES_PORT_BASE
    for i in $(seq 0 17); do port_in_use $((base + i)) && return 1; done
    PORT_BASE=$base
    return 0
  fi
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
CASEPLAN="127.0.0.1:$SAMPLAN_CASEPLAN_PORT"
EVENTS="127.0.0.1:$SAMPLAN_EVENTS_PORT"
TOKENS="$SAMPLAN_STATE_DIR/tokens"

timeout 1800 bash "$ROOT/deploy/local/start.sh" >"$WORK/start.out" 2>&1 ||
  { tail -30 "$WORK/start.out" >&2; fail "deploy/local/start.sh failed"; }
# The stack speaks mutual TLS: samplan-call and both examples present the local
# start's client certificate (SAMPLAN_TLS_* variables).
source "$SAMPLAN_STATE_DIR/tls/client.env"
timeout 300 npm --prefix "$ROOT/examples/node" ci --no-audit --no-fund --loglevel=error \
  >"$WORK/npm.out" 2>&1 || { cat "$WORK/npm.out" >&2; fail "npm ci in examples/node failed"; }

# The start banner's calendar feed answers from the scheduling process: an
# iCalendar file Debian's python3-icalendar reads, with the coordinator's
# coordination meeting and the follow-ups of the demo's 30-odd agreements (the
# agreement consumer makes them within seconds), and 304 to its own ETag.
FEED="$(sed -n 's|^ *curl \(http://[^ ]*/feeds/[^ ]*\.ics\)$|\1|p' "$WORK/start.out" | head -1)"
[ -n "$FEED" ] || fail "the start banner printed no calendar feed"
"$PYTHON" - "$FEED" >"$WORK/feed.out" 2>&1 <<'PY' || { cat "$WORK/feed.out" >&2; fail "the calendar feed $FEED"; }
import sys, time, urllib.error, urllib.request
import icalendar
for _ in range(60):
    with urllib.request.urlopen(sys.argv[1], timeout=10) as answer:
        assert answer.headers.get_content_type() == "text/calendar", answer.headers
        etag, body = answer.headers["ETag"], answer.read()
    summaries = [str(e.get("SUMMARY")) for e in icalendar.Calendar.from_ical(body).walk("VEVENT")]
    if sum(s == "Uppföljning" for s in summaries) >= 90:
        break
    time.sleep(0.5)
assert sum(s == "Uppföljning" for s in summaries) >= 90, summaries
assert any(s.startswith("Samordningsmöte") for s in summaries), summaries
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={"If-None-Match": etag}))
    sys.exit("no 304 to the feed's own ETag")
except urllib.error.HTTPError as e:
    assert e.code == 304, e.code
PY

call() {  # call TOKEN METHOD JSON: prints the response JSON
  timeout 30 "$BUILD_DIR/tools/samplan-call" --address "$CASEPLAN" --token-file "$TOKENS/$1.jwt" \
    "samplan.caseplan.v1.CasePlanService/$2" "$3" 2>>"$WORK/call.err"
}
json() {  # json EXPRESSION: evaluates it on the JSON of standard input, as `r`
  "$PYTHON" -c 'import json, sys; r = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# A plan af takes part in (so may be told of) and soc leads (so may change).
PLAN="$(call soc ListPlans '{}' | json '" ".join(p["name"] for p in r.get("plans", []))')" ||
  fail "ListPlans as soc failed"
AF_PLANS="$(call af ListPlans '{}' | json '" ".join(p["name"] for p in r.get("plans", []))')" ||
  fail "ListPlans as af failed"
PLAN="$(comm -12 <(tr ' ' '\n' <<<"$PLAN" | sort) <(tr ' ' '\n' <<<"$AF_PLANS" | sort) | head -1)"
[ -n "$PLAN" ] || fail "the demo has no plan that soc leads and af may see"

change_plan() {  # prints the plan's new version
  call soc UpdatePlan "{\"plan\": {\"name\": \"$PLAN\", \"overallGoalDescription\": \
\"Egen försörjning genom arbete (examples test, at $(date +%s.%N))\"}, \
\"updateMask\": \"overallGoalDescription\"}" | json 'r["version"]' ||
    fail "UpdatePlan of $PLAN as soc failed"
}

wait_for() {  # wait_for WHAT COMMAND...: until COMMAND succeeds, at most $WAIT seconds
  local what=$1 deadline=$((SECONDS + WAIT))
  shift
  until "$@"; do
    [ -n "$CLIENT_PID" ] && ! kill -0 "$CLIENT_PID" 2>/dev/null && fail "$NAME exited while waiting for $what"
    [ "$SECONDS" -lt "$deadline" ] || fail "$NAME: no $what within ${WAIT}s"
    sleep 0.2
  done
}
versions_of_plan() {  # the versions of $PLAN printed in file $1, one a line
  awk -v plan="$PLAN" '$3 == plan { sub(/^v/, "", $4); print $4 }' "$1"
}
printed() { versions_of_plan "$1" | grep -qx "$2"; }
cursor_moved() { [ -s "$CURSOR" ] && [ "$(cat "$CURSOR")" != "$1" ]; }

start_client() {  # start_client OUTPUT_FILE
  case "$NAME" in
    python) "$PYTHON" "$ROOT/examples/python/subscribe.py" --address "$EVENTS" \
      --token-file "$TOKENS/af.jwt" --cursor-file "$CURSOR" --event-type caseplan. \
      >"$1" 2>>"$WORK/$NAME.err" & ;;
    node) node "$ROOT/examples/node/subscribe.js" --address "$EVENTS" \
      --token-file "$TOKENS/af.jwt" --cursor-file "$CURSOR" --event-type caseplan. \
      >"$1" 2>>"$WORK/$NAME.err" & ;;
  esac
  CLIENT_PID=$!
}

check_client() {
  NAME=$1
  CURSOR="$WORK/$NAME.cursor"
  local before="$WORK/$NAME.before.out" after="$WORK/$NAME.after.out" v first=() missed=()

  # Live: the first message (a heartbeat) stores where the client stands.
  start_client "$before"
  wait_for "cursor stored after connecting" test -s "$CURSOR"
  local at_start
  at_start="$(cat "$CURSOR")"
  v="$(change_plan)" || exit 1
  first+=("$v")
  wait_for "line for $PLAN v$v" printed "$before" "$v"
  # Kill it only once the cursor after that event is stored: the contract is
  # at-least-once across a crash between processing and storing.
  wait_for "cursor stored after v$v" cursor_moved "$at_start"
  kill -9 "$CLIENT_PID"
  wait "$CLIENT_PID" 2>/dev/null || true
  CLIENT_PID=""

  for _ in 1 2 3; do v="$(change_plan)" || exit 1; missed+=("$v"); done

  start_client "$after"
  wait_for "lines for versions ${missed[*]} of $PLAN after the restart" printed "$after" "${missed[2]}"
  sleep 1  # let anything unexpected (a duplicate, a fourth version) arrive
  local got want
  got="$(versions_of_plan "$after" | tr '\n' ' ')"
  want="${missed[*]} "
  [ "$got" = "$want" ] ||
    fail "$NAME after the restart printed versions '${got% }' of $PLAN, want '${want% }' (before the kill it printed '$(versions_of_plan "$before" | tr '\n' ' ')')"
  [ "$(versions_of_plan "$before" | tr '\n' ' ')" = "${first[*]} " ] ||
    fail "$NAME before the kill printed '$(versions_of_plan "$before" | tr '\n' ' ')' of $PLAN, want '${first[*]}'"
  # A polite stop must work too (Ctrl-C, systemd): it exits at once.
  kill -TERM "$CLIENT_PID"
  local pid=$CLIENT_PID
  CLIENT_PID=""
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"
    fail "$NAME did not exit within 5s of SIGTERM"
  fi
  wait "$pid" 2>/dev/null || true
}

check_client python
check_client node

# The README's start command again on the same state, as after a reboot: the
# demo finds what it made before and starts all the same.
bash "$ROOT/deploy/local/stop.sh" >"$WORK/stop-again.log" 2>&1 ||
  { cat "$WORK/stop-again.log" >&2; fail "deploy/local/stop.sh failed before the second start"; }
timeout 1800 bash "$ROOT/deploy/local/start.sh" >"$WORK/start-again.out" 2>&1 ||
  { tail -30 "$WORK/start-again.out" >&2; fail "a second deploy/local/start.sh on the same state failed"; }

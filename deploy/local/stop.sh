#!/usr/bin/env bash
# Stops what deploy/local/start.sh started. The data stays in .local/.
set -euo pipefail
source "$(dirname "$0")/common.sh"

stop_pidfile() {
  local name=$1 file="$STATE_DIR/run/$1.pid" pid
  pid="$(cat "$file" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "stopping $name"
    kill -TERM "$pid"
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$file"
}

stop_pidfile surveys
stop_pidfile smtp
stop_pidfile gateway
stop_pidfile events
stop_pidfile scheduling
stop_pidfile placement
stop_pidfile caseplan
stop_pidfile identity
stop_pidfile redis
pg_dirs
if [ -f "$PG_DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
  log "stopping PostgreSQL"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
fi
log "stopped"

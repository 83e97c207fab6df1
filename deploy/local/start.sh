#!/usr/bin/env bash
# Starts Samplan locally with a demo municipality: installs what is missing,
# builds, starts PostgreSQL and Redis as local processes with their data under
# .local/, applies migrations, starts the services and loads the demo.
#
# Ports (change them if they are taken):
#   SAMPLAN_PG_PORT (55432)  SAMPLAN_REDIS_PORT (56379)  SAMPLAN_CASEPLAN_PORT (50051)
#   SAMPLAN_IDENTITY_PORT (50052)  SAMPLAN_EVENTS_PORT (50053)  SAMPLAN_PLACEMENT_PORT (50054)
#   SAMPLAN_SCHEDULING_PORT (50055)  SAMPLAN_SURVEYS_PORT (50056)
#   SAMPLAN_SCHEDULING_FEED_PORT (58055: the scheduling service's calendar feeds, HTTP)
#   SAMPLAN_GATEWAY_PORT (8080: the HTTP/JSON API and the portal's pages)
#   SAMPLAN_SMTP_PORT (2525: the mail sink that receives the survey invitations)
#   SAMPLAN_METRICS_PORT (59090 for caseplan; identity +1, events +2, placement +3,
#   scheduling +4, surveys +5, gateway +6)
# SAMPLAN_SKIP_BUILD=1 starts what is built without building (for tests that
# run after the build).
# Stop everything with deploy/local/stop.sh; remove .local/ to start from scratch.
set -euo pipefail
source "$(dirname "$0")/common.sh"

PG_PORT="${SAMPLAN_PG_PORT:-55432}"
REDIS_PORT="${SAMPLAN_REDIS_PORT:-56379}"
SMTP_PORT="${SAMPLAN_SMTP_PORT:-2525}"
MAIL_DIR="$STATE_DIR/mail"
CASEPLAN_PORT="${SAMPLAN_CASEPLAN_PORT:-50051}"
IDENTITY_PORT="${SAMPLAN_IDENTITY_PORT:-50052}"
METRICS_PORT="${SAMPLAN_METRICS_PORT:-59090}"
EVENTS_PORT="${SAMPLAN_EVENTS_PORT:-50053}"
IDENTITY_METRICS_PORT=$((METRICS_PORT + 1))
EVENTS_METRICS_PORT=$((METRICS_PORT + 2))
PLACEMENT_PORT="${SAMPLAN_PLACEMENT_PORT:-50054}"
PLACEMENT_METRICS_PORT=$((METRICS_PORT + 3))
SCHEDULING_PORT="${SAMPLAN_SCHEDULING_PORT:-50055}"
SCHEDULING_METRICS_PORT=$((METRICS_PORT + 4))
FEED_PORT="${SAMPLAN_SCHEDULING_FEED_PORT:-58055}"
SURVEYS_PORT="${SAMPLAN_SURVEYS_PORT:-50056}"
SURVEYS_METRICS_PORT=$((METRICS_PORT + 5))
GATEWAY_PORT="${SAMPLAN_GATEWAY_PORT:-8080}"
GATEWAY_METRICS_PORT=$((METRICS_PORT + 6))

if [ -z "${SAMPLAN_SKIP_BUILD:-}" ]; then
  install_packages
  build
fi

mkdir -p "$STATE_DIR"/{logs,run,keys,tokens,redis}
chmod 755 "$STATE_DIR" "$STATE_DIR/run"
pg_dirs
mkdir -p "$PG_RUN"
chmod 755 "$PG_RUN"

# PostgreSQL: a cluster of our own in .local/pg.
if [ ! -f "$PG_DATA/PG_VERSION" ]; then
  log "creating a PostgreSQL cluster in $PG_DATA"
  mkdir -p "$PG_DATA"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PG_DATA" "$PG_RUN"
  chmod 700 "$PG_DATA"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
fi
if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
  log "PostgreSQL already running"
else
  port_in_use "$PG_PORT" && die "port $PG_PORT is taken; set SAMPLAN_PG_PORT to a free one"
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  # The server writes its log beside its data (the postgres user may not reach
  # the state folder); logs/postgres.log points at it.
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/postgres.log" -w \
    -o "-p $PG_PORT -k $PG_RUN -c listen_addresses=127.0.0.1" start >/dev/null
  ln -sf "$PG_DATA/postgres.log" "$STATE_DIR/logs/postgres.log"
fi
echo "$PG_PORT" > "$STATE_DIR/run/pg.port"

# Redis users: one per service with only the commands and keys it needs
# (deploy/local/redis-users.acl), each with a password generated once into
# keys/redis/; "default" is the operator's (REDISCLI_AUTH for redis-cli). The
# server's ACL file holds only the passwords' SHA-256.
REDIS_KEYS="$STATE_DIR/keys/redis"
(
  umask 077
  mkdir -p "$REDIS_KEYS"
  for user in default $(awk '!/^#/ && NF {print $1}' "$ROOT/deploy/local/redis-users.acl"); do
    [ -s "$REDIS_KEYS/$user.password" ] ||
      head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$REDIS_KEYS/$user.password"
  done
  redis_user() {  # redis_user NAME RULES…: one line of the ACL file
    local name=$1; shift
    echo "user $name on #$(tr -d '\n' < "$REDIS_KEYS/$name.password" | sha256sum | cut -d' ' -f1) $*"
  }
  {
    redis_user default '~* &* +@all'
    while read -r name rules; do
      case "$name" in ''|'#'*) continue ;; esac
      redis_user "$name" "$rules"
    done < "$ROOT/deploy/local/redis-users.acl"
  } > "$STATE_DIR/redis/users.acl"
)
export REDISCLI_AUTH
REDISCLI_AUTH="$(cat "$REDIS_KEYS/default.password")"

# Redis, append-only so the event streams survive a restart.
if [ -f "$STATE_DIR/run/redis.pid" ] && kill -0 "$(cat "$STATE_DIR/run/redis.pid")" 2>/dev/null; then
  log "Redis already running; reloading its users"
  redis-cli -p "$REDIS_PORT" ACL LOAD 2>&1 | grep -qx OK ||
    die "Redis on $REDIS_PORT runs without the users; stop it (deploy/local/stop.sh) and start again"
else
  port_in_use "$REDIS_PORT" && die "port $REDIS_PORT is taken; set SAMPLAN_REDIS_PORT to a free one"
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$STATE_DIR/redis" \
    --appendonly yes --appendfsync always --save "" --daemonize yes \
    --aclfile "$STATE_DIR/redis/users.acl" \
    --pidfile "$STATE_DIR/run/redis.pid" --logfile "$STATE_DIR/logs/redis.log"
  for _ in $(seq 50); do port_in_use "$REDIS_PORT" && break; sleep 0.1; done
fi

# The mail sink: Debian's python3-aiosmtpd with its own Maildir handler
# (aiosmtpd.handlers.Mailbox), so every mail the services send (the surveys'
# invitations) lands as one file in $MAIL_DIR/new and nothing leaves the machine.
if [ -f "$STATE_DIR/run/smtp.pid" ] && kill -0 "$(cat "$STATE_DIR/run/smtp.pid")" 2>/dev/null; then
  log "SMTP sink already running"
else
  port_in_use "$SMTP_PORT" && die "port $SMTP_PORT is taken; set SAMPLAN_SMTP_PORT to a free one"
  log "starting the SMTP sink on 127.0.0.1:$SMTP_PORT (mails in $MAIL_DIR/new)"
  # Debian's interpreter, which has the package, whatever python3 is first on PATH.
  nohup /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
    -c aiosmtpd.handlers.Mailbox "$MAIL_DIR" >>"$STATE_DIR/logs/smtp.log" 2>&1 &
  echo $! > "$STATE_DIR/run/smtp.pid"
  for _ in $(seq 50); do port_in_use "$SMTP_PORT" && break; sleep 0.1; done
  port_in_use "$SMTP_PORT" || { tail -5 "$STATE_DIR/logs/smtp.log"; die "the SMTP sink did not start"; }
fi

# A development signing key; tokens for each demo agency are minted with it.
if [ ! -f "$STATE_DIR/keys/dev.pem" ]; then
  "$BUILD_DIR/tools/samplan-token" --generate-key "$STATE_DIR/keys/dev.pem" "$STATE_DIR/keys/dev.pub.pem"
fi

# The identity service's keys for personal identity numbers: one seals them
# (AES-256-GCM), one makes the lookup hash. Made once; losing them loses the numbers.
if [ ! -f "$STATE_DIR/keys/identity.env" ]; then
  umask 077
  {
    echo "SAMPLAN_IDENTITY_ENCRYPTION_KEY='$(head -c 32 /dev/urandom | base64)'"
    echo "SAMPLAN_IDENTITY_LOOKUP_KEY='$(head -c 32 /dev/urandom | base64)'"
  } > "$STATE_DIR/keys/identity.env"
  umask 022
fi
# A third key seals the audit chains (added to a state made before it existed).
if ! grep -q SAMPLAN_IDENTITY_AUDIT_KEY "$STATE_DIR/keys/identity.env"; then
  echo "SAMPLAN_IDENTITY_AUDIT_KEY='$(head -c 32 /dev/urandom | base64)'" >> "$STATE_DIR/keys/identity.env"
fi

# The schemas are migrated as their owner (here the local superuser); each
# service then runs as a login of its own role, samplan_<name> (identity's
# migration 0007), which owns nothing (docs/configuration.md, "Database roles").
OWNER_DSN="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
migrate_as_owner() {  # migrate_as_owner NAME: migrations, then the login samplan_NAME_login
  local name=$1
  ( set -a; source "$STATE_DIR/$name.env"; SAMPLAN_PG_DSN=$OWNER_DSN; set +a
    "$BUILD_DIR/services/$name/samplan-$name" --migrate-only >>"$STATE_DIR/logs/$name.log" 2>&1 ) ||
    { tail -5 "$STATE_DIR/logs/$name.log"; die "the $name migrations failed"; }
  "$PG_BIN/psql" -qX -v ON_ERROR_STOP=1 -d "$OWNER_DSN" -c "DO \$\$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'samplan_${name}_login') THEN
      CREATE ROLE samplan_${name}_login LOGIN IN ROLE samplan_${name};
    END IF; END \$\$" >/dev/null || die "cannot make the $name service's database login"
}

# --- TLS ------------------------------------------------------------------
# A development CA and a certificate per process, made with openssl under
# $STATE_DIR/tls once and reused by later starts (a leaf that expires within a
# day is made anew). Every service serves TLS and requires a client certificate
# from this CA (mutual TLS): the gateway presents its own, and the local tools
# (samplan-demo, samplan-call, the examples) present "client", whose settings
# $STATE_DIR/tls/client.env exports. The certificates name 127.0.0.1 and
# localhost, where the services listen.
TLS_DIR="$STATE_DIR/tls"
TLS_PROCESSES="identity caseplan events placement scheduling surveys gateway client"

# make_dev_leaf NAME USAGE: $TLS_DIR/NAME.pem and NAME.key, signed by the CA.
make_dev_leaf() {
  local name=$1 usage=$2
  if [ -f "$TLS_DIR/$name.pem" ] && [ -f "$TLS_DIR/$name.key" ] &&
     openssl x509 -checkend 86400 -noout -in "$TLS_DIR/$name.pem" >/dev/null 2>&1; then
    return 0
  fi
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=%s\n' "$usage" \
    > "$TLS_DIR/$name.ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/O=Samplan development/CN=samplan-$name" \
    -keyout "$TLS_DIR/$name.key.new" -out "$TLS_DIR/$name.csr" 2>/dev/null
  openssl x509 -req -in "$TLS_DIR/$name.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" \
    -CAcreateserial -days 365 -extfile "$TLS_DIR/$name.ext" -out "$TLS_DIR/$name.pem.new" 2>/dev/null
  # Key before certificate, each whole by rename: a running process re-reads
  # them (SAMPLAN_TLS_RELOAD_INTERVAL) and ignores a pair that does not match.
  mv "$TLS_DIR/$name.key.new" "$TLS_DIR/$name.key"
  mv "$TLS_DIR/$name.pem.new" "$TLS_DIR/$name.pem"
  rm -f "$TLS_DIR/$name.csr" "$TLS_DIR/$name.ext"
}

make_dev_certificates() {
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"
  umask 077
  if [ ! -f "$TLS_DIR/ca.pem" ] || [ ! -f "$TLS_DIR/ca.key" ]; then
    log "making a development CA in $TLS_DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/O=Samplan development/CN=Samplan development CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" 2>/dev/null
  fi
  local name
  for name in $TLS_PROCESSES; do
    case "$name" in
      gateway|client) make_dev_leaf "$name" clientAuth ;;
      *) make_dev_leaf "$name" serverAuth,clientAuth ;;
    esac
  done
  umask 022
  cat > "$TLS_DIR/client.env" <<ENV
export SAMPLAN_TLS_CA_FILE='$TLS_DIR/ca.pem'
export SAMPLAN_TLS_CERT_FILE='$TLS_DIR/client.pem'
export SAMPLAN_TLS_KEY_FILE='$TLS_DIR/client.key'
ENV
}

# tls_env NAME: the TLS lines of process NAME's environment file.
tls_env() {
  echo "SAMPLAN_TLS_CA_FILE='$TLS_DIR/ca.pem'"
  echo "SAMPLAN_TLS_CERT_FILE='$TLS_DIR/$1.pem'"
  echo "SAMPLAN_TLS_KEY_FILE='$TLS_DIR/$1.key'"
  # The gateway serves HTTP, not gRPC: its certificate is its client identity.
  [ "$1" = gateway ] || echo "SAMPLAN_TLS_REQUIRE_CLIENT_CERT=true"
}

make_dev_certificates
# samplan-demo and samplan-call below call the services as "client".
source "$TLS_DIR/client.env"
# --- end of TLS ---------------------------------------------------------------

# The key that signs every event on the streams (HMAC-SHA256): the services that
# publish sign with it, the event service and the consumers refuse what it did not
# sign. Made once.
if [ ! -f "$STATE_DIR/keys/stream.env" ]; then
  umask 077
  echo "SAMPLAN_STREAM_KEYS='dev=$(head -c 32 /dev/urandom | base64)'" > "$STATE_DIR/keys/stream.env"
  umask 022
fi

# start_service NAME PORT METRICS_PORT [ENV_FILE]: (re)starts build/services/NAME
# with the shared settings, the service's own port, and the variables of ENV_FILE.
start_service() {
  local name=$1 port=$2 metrics_port=$3 extra=${4:-} pidfile="$STATE_DIR/run/$1.pid"
  cat > "$STATE_DIR/$name.env" <<ENV
SAMPLAN_LISTEN_ADDRESS='127.0.0.1:$port'
SAMPLAN_PG_DSN='host=127.0.0.1 port=$PG_PORT user=samplan_${name}_login dbname=postgres'
SAMPLAN_REDIS_ADDRESS='127.0.0.1:$REDIS_PORT'
SAMPLAN_JWT_ISSUER='samplan-dev'
SAMPLAN_JWT_AUDIENCE='samplan'
SAMPLAN_JWT_PUBLIC_KEYS='dev=$STATE_DIR/keys/dev.pub.pem'
SAMPLAN_DRAIN_PERIOD='0s'
SAMPLAN_METRICS_ADDRESS='127.0.0.1:$metrics_port'
ENV
  tls_env "$name" >> "$STATE_DIR/$name.env"
  chmod 600 "$STATE_DIR/$name.env"
  if [ -f "$REDIS_KEYS/$name.password" ] && [ "$name" != default ]; then
    echo "SAMPLAN_REDIS_USERNAME='$name'" >> "$STATE_DIR/$name.env"
    echo "SAMPLAN_REDIS_PASSWORD='$(cat "$REDIS_KEYS/$name.password")'" >> "$STATE_DIR/$name.env"
  fi
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    log "restarting the $name service with the fresh build"
    kill -TERM "$(cat "$pidfile")"
    while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.1; done
  fi
  port_in_use "$port" && die "port $port is taken; set SAMPLAN_${name^^}_PORT to a free one"
  port_in_use "$metrics_port" && die "port $metrics_port is taken; set SAMPLAN_METRICS_PORT to a free one"
  [ "$name" = gateway ] || migrate_as_owner "$name"
  log "starting the $name service on 127.0.0.1:$port"
  (
    set -a; source "$STATE_DIR/$name.env"; source "$STATE_DIR/keys/stream.env"
    [ -n "$extra" ] && source "$extra"; set +a
    nohup "$BUILD_DIR/services/$name/samplan-$name" >>"$STATE_DIR/logs/$name.log" 2>&1 &
    echo $! > "$pidfile"
  )
  for _ in $(seq 100); do port_in_use "$port" && break; sleep 0.1; done
  port_in_use "$port" || { tail -5 "$STATE_DIR/logs/$name.log"; die "the $name service did not start"; }
}

# Identity first: it migrates the identity schema, whose access checks and audit
# log the caseplan service uses.
start_service identity "$IDENTITY_PORT" "$IDENTITY_METRICS_PORT" "$STATE_DIR/keys/identity.env"
start_service caseplan "$CASEPLAN_PORT" "$METRICS_PORT"
start_service events "$EVENTS_PORT" "$EVENTS_METRICS_PORT"
start_service placement "$PLACEMENT_PORT" "$PLACEMENT_METRICS_PORT"
# Scheduling follows the demo municipality's placement agreements (follow-ups).
# It serves the calendar feeds on a port of its own.
cat > "$STATE_DIR/scheduling-extra.env" <<ENV
SAMPLAN_SCHEDULING_MUNICIPALITIES='1885'
SAMPLAN_SCHEDULING_FEED_HOST='127.0.0.1'
SAMPLAN_SCHEDULING_FEED_PORT='$FEED_PORT'
SAMPLAN_SCHEDULING_FEED_URL='http://127.0.0.1:$FEED_PORT'
ENV
if ! { [ -f "$STATE_DIR/run/scheduling.pid" ] && kill -0 "$(cat "$STATE_DIR/run/scheduling.pid")" 2>/dev/null; }; then
  port_in_use "$FEED_PORT" && die "port $FEED_PORT is taken; set SAMPLAN_SCHEDULING_FEED_PORT to a free one"
fi
start_service scheduling "$SCHEDULING_PORT" "$SCHEDULING_METRICS_PORT" "$STATE_DIR/scheduling-extra.env"
# Surveys follows the demo municipality's agreements, plans and consents
# ("Vad hände sen?" invitations) and mails through the sink.
cat > "$STATE_DIR/surveys-extra.env" <<ENV
SAMPLAN_SURVEYS_MUNICIPALITIES='1885'
SAMPLAN_SMTP_HOST='127.0.0.1'
SAMPLAN_SMTP_PORT='$SMTP_PORT'
SAMPLAN_SURVEYS_PUBLIC_URL='http://127.0.0.1:$GATEWAY_PORT'
SAMPLAN_SURVEYS_MAIL_FROM='vadhandesen@lindesberg.invalid'
ENV
start_service surveys "$SURVEYS_PORT" "$SURVEYS_METRICS_PORT" "$STATE_DIR/surveys-extra.env"

# The gateway: HTTP/JSON for every service, the event stream as Server-Sent
# Events, and the portal's pages, with the development sign-in (demo tokens).
cat > "$STATE_DIR/gateway.extra.env" <<ENV
SAMPLAN_GATEWAY_BACKENDS='samplan.caseplan.v1.CasePlanService=127.0.0.1:$CASEPLAN_PORT,samplan.identity.v1.IdentityService=127.0.0.1:$IDENTITY_PORT,samplan.events.v1.EventService=127.0.0.1:$EVENTS_PORT,samplan.placement.v1.PlacementService=127.0.0.1:$PLACEMENT_PORT,samplan.scheduling.v1.SchedulingService=127.0.0.1:$SCHEDULING_PORT,samplan.surveys.v1.SurveyService=127.0.0.1:$SURVEYS_PORT'
SAMPLAN_GATEWAY_WEB_DIR='$ROOT/services/gateway/web'
SAMPLAN_GATEWAY_DEV_SIGN_IN=true
SAMPLAN_GATEWAY_DEV_TOKENS_DIR='$STATE_DIR/tokens'
ENV
start_service gateway "$GATEWAY_PORT" "$GATEWAY_METRICS_PORT" "$STATE_DIR/gateway.extra.env"

log "loading the demo municipality (Lindesberg, 1885)"
"$BUILD_DIR/tools/samplan-demo" --address "127.0.0.1:$CASEPLAN_PORT" \
  --identity-address "127.0.0.1:$IDENTITY_PORT" \
  --placement-address "127.0.0.1:$PLACEMENT_PORT" \
  --surveys-address "127.0.0.1:$SURVEYS_PORT" \
  --key "$STATE_DIR/keys/dev.pem" --tokens-dir "$STATE_DIR/tokens"

# Scheduling's part of the demo: the staff's working hours, and a coordination
# meeting of the agencies at their first common free time next week (once: a
# restart finds it among soc's meetings). The coordinator's follow-ups come from
# the demo's signed agreements, through the agreement consumer.
scheduling_call() {  # scheduling_call AGENCY METHOD JSON: prints the response JSON
  "$BUILD_DIR/tools/samplan-call" --address "127.0.0.1:$SCHEDULING_PORT" \
    --token-file "$STATE_DIR/tokens/$1.jwt" "samplan.scheduling.v1.SchedulingService/$2" "$3"
}
log "loading the scheduling demo: working hours and a coordination meeting"
for agency in soc af vux prakt; do
  scheduling_call "$agency" SetWorkingHours '{"workingHours": {"weeklyRules": [
    {"dayOfWeek": 1, "hours": {"startTime": "08:00", "endTime": "16:30"}},
    {"dayOfWeek": 2, "hours": {"startTime": "08:00", "endTime": "16:30"}},
    {"dayOfWeek": 3, "hours": {"startTime": "08:00", "endTime": "16:30"}},
    {"dayOfWeek": 4, "hours": {"startTime": "08:00", "endTime": "16:30"}},
    {"dayOfWeek": 5, "hours": {"startTime": "08:00", "endTime": "15:00"}}]}}' >/dev/null ||
    die "the scheduling demo could not set $agency's working hours"
done
if ! scheduling_call soc ListMeetings '{}' | grep -q MEETING_KIND_COORDINATION; then
  WEEK="$(date -u -d 'next monday' +%Y-%m-%dT00:00:00Z)"
  WEEK_END="$(date -u -d 'next monday + 5 days' +%Y-%m-%dT00:00:00Z)"
  SLOT="$(scheduling_call soc FindCommonSlots "{\"requiredUsers\": [\"users/demo-soc\",
    \"users/demo-af\", \"users/demo-prakt\"], \"optionalUsers\": [\"users/demo-vux\"],
    \"durationMinutes\": 60, \"windowStart\": \"$WEEK\", \"windowEnd\": \"$WEEK_END\",
    \"earliestTimeOfDay\": \"09:00\", \"latestTimeOfDay\": \"16:00\", \"bufferMinutes\": 15,
    \"maxCandidates\": 1}" | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin).get("candidates", [])
print(c[0]["startTime"], c[0]["endTime"]) if c else None')" ||
    die "the scheduling demo found no common free time"
  if [ -n "$SLOT" ]; then
    read -r SLOT_START SLOT_END <<<"$SLOT"
    scheduling_call soc CreateMeeting "{\"requestId\": \"demo-coordination-$SLOT_START\",
      \"meeting\": {\"kind\": \"MEETING_KIND_COORDINATION\",
      \"title\": \"Samordningsmöte: vägar till arbete\",
      \"location\": {\"address\": \"Kommunhuset, Lindesberg\"},
      \"startTime\": \"$SLOT_START\", \"endTime\": \"$SLOT_END\",
      \"participants\": [
        {\"user\": \"users/demo-af\", \"organization\": \"organizations/af-lindesberg\"},
        {\"user\": \"users/demo-prakt\", \"organization\": \"organizations/lindesberg-prakt\"},
        {\"user\": \"users/demo-vux\", \"organization\": \"organizations/lindesberg-vux\",
         \"optional\": true}]}}" >/dev/null ||
      die "the scheduling demo could not book the coordination meeting"
  fi
fi

# The coordinator's month: about 30 running agreements, each with its
# follow-ups proposed by the agreement consumer. Invented persons (valid check
# digits, registered by soc, consenting to prakt for the placement), each at a
# work-practice place of the bank; request ids make a restart find them.
/usr/bin/python3 - "$BUILD_DIR/tools/samplan-call" "$STATE_DIR/tokens" \
    "127.0.0.1:$IDENTITY_PORT" "127.0.0.1:$PLACEMENT_PORT" <<'PY' || die "the coordinator's agreements could not be loaded"
import datetime, json, subprocess, sys
call_tool, tokens, identity, placement = sys.argv[1:5]
def call(address, agency, method, request):
    out = subprocess.run([call_tool, "--address", address, "--token-file", f"{tokens}/{agency}.jwt",
                          method, json.dumps(request)], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{method}: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout or "{}")
def number(i):  # an invented personnummer with a valid check digit
    born = datetime.date(1975 + i % 30, 1 + i % 12, 1 + i % 28)
    digits = born.strftime("%y%m%d") + f"{900 + i:03d}"
    total = sum(sum(divmod(int(d) * (2 - k % 2), 10)) for k, d in enumerate(digits))
    return born.strftime("%Y%m%d") + f"-{900 + i:03d}{(10 - total % 10) % 10}"
PS = "samplan.placement.v1.PlacementService/"
places = [p["name"] for p in call(placement, "prakt", PS + "ListPlacements",
          {"kind": "PLACEMENT_KIND_WORK_PRACTICE", "status": "PLACEMENT_STATUS_OPEN",
           "pageSize": 200}).get("placements", [])][20:]
today = datetime.date.today()
date = lambda d: {"year": d.year, "month": d.month, "day": d.day}
for i in range(min(30, len(places))):
    person = call(identity, "soc", "samplan.identity.v1.IdentityService/CreatePerson",
                  {"requestId": f"demo-coordinator-person-{i}", "person": {
                      "identityNumber": number(i), "givenName": "Deltagare",
                      "familyName": f"Demo {i + 1}"}})["name"]
    call(identity, "soc", "samplan.identity.v1.IdentityService/CreateConsent",
         {"requestId": f"demo-coordinator-consent-{i}", "consent": {
             "person": person, "granteeOrganizations": ["organizations/lindesberg-prakt"],
             "purpose": "placement", "dataCategories": ["placement"],
             "validUntil": (datetime.datetime.utcnow() + datetime.timedelta(days=365))
                 .strftime("%Y-%m-%dT%H:%M:%SZ"),
             "givenBy": "CONSENT_GIVER_PERSON", "method": "CONSENT_METHOD_WRITTEN"}})
    begins = today - datetime.timedelta(days=7 * (i % 8))
    agreement = call(placement, "prakt", PS + "CreateAgreement", {
        "requestId": f"demo-coordinator-agreement-{i}", "agreement": {
            "person": person, "placement": places[i],
            "supervisor": {"displayName": "Handledare Demo"},
            "period": {"startDate": date(begins), "endDate": date(begins + datetime.timedelta(days=120))},
            "hoursPerWeek": 20, "schedule": "mån–tor 8–13",
            "goal": "Arbetserfarenhet och en referens inför anställning",
            "followUpIntervalDays": 30}})
    if agreement.get("status") != "AGREEMENT_STATUS_PROPOSED":
        continue  # an earlier start signed it
    name = agreement["name"]
    call(placement, "prakt", PS + "RecordWorkplaceVisit", {"name": name, "visitDate": date(today)})
    for party in ("PARTY_PARTICIPANT", "PARTY_EMPLOYER", "PARTY_COORDINATOR"):
        call(placement, "prakt", PS + "SignAgreement", {"name": name, "party": party})
    call(placement, "prakt", PS + "StartAgreement", {"name": name})
PY

# The coordinator's calendar as a feed to subscribe to: a fresh secret address
# on every start (the one before stops answering).
FEED_URL="$("$BUILD_DIR/tools/samplan-call" --address "127.0.0.1:$SCHEDULING_PORT" \
  --token-file "$STATE_DIR/tokens/prakt.jwt" \
  samplan.scheduling.v1.SchedulingService/RotateCalendarFeed \
  '{"name": "users/demo-prakt/calendarFeed"}' | sed -n 's/.*"url": *"\([^"]*\)".*/\1/p')"

cat <<TXT

Samplan is running.
  caseplan   127.0.0.1:$CASEPLAN_PORT   (gRPC with reflection and health)
  identity   127.0.0.1:$IDENTITY_PORT   (persons, consents, audit log)
  events     127.0.0.1:$EVENTS_PORT   (Subscribe / ListEvents: the changes each agency may see)
  placement  127.0.0.1:$PLACEMENT_PORT   (placement bank, matching, agreements)
  scheduling 127.0.0.1:$SCHEDULING_PORT   (meetings: follow-ups, coordination meetings)
  feeds      http://127.0.0.1:$FEED_PORT/feeds/{secret}.ics   (calendar feeds, iCalendar)
  surveys    127.0.0.1:$SURVEYS_PORT   (questionnaires, outcomes as SUS records them, statistics)
  portal     http://127.0.0.1:$GATEWAY_PORT/   (pages; sign in as a demo agency at /signin)
  HTTP/JSON  http://127.0.0.1:$GATEWAY_PORT/v1/…   (every call; OpenAPI at /openapi.json)
  metrics    http://127.0.0.1:$METRICS_PORT/metrics (caseplan), :$IDENTITY_METRICS_PORT (identity),
             :$EVENTS_METRICS_PORT (events), :$PLACEMENT_METRICS_PORT (placement),
             :$SCHEDULING_METRICS_PORT (scheduling), :$SURVEYS_METRICS_PORT (surveys),
             :$GATEWAY_METRICS_PORT (gateway)
  PostgreSQL 127.0.0.1:$PG_PORT   Redis 127.0.0.1:$REDIS_PORT   logs in $STATE_DIR/logs
  mail       127.0.0.1:$SMTP_PORT   (SMTP sink: every mail sent lands as a file in $MAIL_DIR/new)

The services speak TLS and require a client certificate from the development
CA in $TLS_DIR; samplan-call (and the examples) find the demo client's with
  source $TLS_DIR/client.env
Call it as an agency of the demo (tokens in $STATE_DIR/tokens/, valid 12 hours):
  $BUILD_DIR/tools/samplan-call --address 127.0.0.1:$CASEPLAN_PORT \\
      --token-file $STATE_DIR/tokens/soc.jwt samplan.caseplan.v1.CasePlanService/ListPlans '{}'
The placement coordinator's call list:
  $BUILD_DIR/tools/samplan-call --address 127.0.0.1:$PLACEMENT_PORT \\
      --token-file $STATE_DIR/tokens/prakt.jwt samplan.placement.v1.PlacementService/ListColdEmployers '{}'
The funders' statistics, small groups suppressed (managers read them):
  $BUILD_DIR/tools/samplan-call --address 127.0.0.1:$SURVEYS_PORT \\
      --token-file $STATE_DIR/tokens/mgr.jwt samplan.surveys.v1.SurveyService/GetOutcomeStatistics \\
      '{"groupBy": "DIMENSION_GENDER"}'
Any gRPC client that uses server reflection works too (grpcurl, Postman, Kreya).
The coordinator's meetings of the next 90 days:
  $BUILD_DIR/tools/samplan-call --address 127.0.0.1:$SCHEDULING_PORT \\
      --token-file $STATE_DIR/tokens/prakt.jwt samplan.scheduling.v1.SchedulingService/ListMeetings '{}'
The coordinator's calendar feed (subscribe to it in a calendar program; a new
address is made at every start):
  curl ${FEED_URL:-"(not made: see $STATE_DIR/logs/scheduling.log)"}
Or over HTTP/JSON through the gateway:
  curl -H "Authorization: Bearer \$(cat $STATE_DIR/tokens/soc.jwt)" http://127.0.0.1:$GATEWAY_PORT/v1/plans
The changes af may see, as pages (Subscribe streams them live):
  $BUILD_DIR/tools/samplan-call --address 127.0.0.1:$EVENTS_PORT \\
      --token-file $STATE_DIR/tokens/af.jwt samplan.events.v1.EventService/ListEvents '{}'
The raw stream:  REDISCLI_AUTH="\$(cat $REDIS_KEYS/default.password)" redis-cli -p $REDIS_PORT XRANGE 'samplan:events:{1885}' - +
Stop with: deploy/local/stop.sh
TXT

# Shared by start.sh, stop.sh and test.sh: where things are and how to install and
# build. Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${SAMPLAN_BUILD_DIR:-$ROOT/build}"
STATE_DIR="${SAMPLAN_STATE_DIR:-$ROOT/.local}"
PG_BIN=/usr/lib/postgresql/15/bin

# Debian 12 packages the project needs to build, test and run locally.
PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache clang libclang-rt-14-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libhiredis-dev libpqxx-dev libssl-dev libgtest-dev libgmock-dev
  prometheus-cpp-dev libical-dev tzdata libcpp-httplib-dev python3-icalendar
  libcurl4-openssl-dev
  postgresql-15 redis-server openssl nodejs npm
  python3-grpcio python3-protobuf python3-grpc-tools python3-aiosmtpd
  chromium
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # node and npm may come from elsewhere than Debian; what matters is that they run.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
  fi
  local wanted=()
  for p in "${missing[@]}"; do [ -n "$p" ] && wanted+=("$p"); done
  if [ "${#wanted[@]}" -gt 0 ]; then
    log "installing ${wanted[*]}"
    # The postgresql package must not create and start a cluster of its own on
    # 5432: ours run on their own ports, started by these scripts and the tests.
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" |
      as_root tee /etc/postgresql-common/createcluster.d/samplan.conf >/dev/null
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${wanted[@]}" >/dev/null
  fi
}

# Sets PG_DATA and PG_RUN, the local cluster's data and socket folders. They live
# in the state folder, unless we are root and the postgres user cannot reach it
# (a checkout under /root, mode 700): then under /var/lib/samplan-local.
pg_dirs() {
  PG_DATA="$STATE_DIR/pg"
  PG_RUN="$STATE_DIR/run"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$STATE_DIR" 2>/dev/null; then
    local place
    place="/var/lib/samplan-local/$(printf '%s' "$STATE_DIR" | md5sum | cut -c1-12)"
    mkdir -p "$place"
    PG_DATA="$place/pg"
    PG_RUN="$place/run"
  fi
}

build() {
  log "building in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$BUILD_DIR"
}

# Runs a command as the OS user that owns PostgreSQL's data (postgres when we are
# root: PostgreSQL refuses to run as root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

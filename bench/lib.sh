# Shared set-up for the benchmarks in bench/: sourced, not run.
#
#   . "$(dirname "$0")/lib.sh"
#   bench_init NAME            # NAME: the script's name in messages (bench/NAME.sh)
#   bench_require PKG... -- CMD...   # as root, apt-get install the missing PKGs; then every CMD must exist
#   bench_workdir              # $WORK (short path under /tmp), $WORK/user owned by the user
#   bench_snapshot_tsbox       # $TSBOX: a copy of bin/ dist/ native-helper/ node_modules/; $TSBOX_REVISION
#   bench_start_registry       # docker-registry on 127.0.0.1:<ephemeral>; $HOST
#   bench_podman_conf          # registries.conf, containers.conf, storage.conf, policy.json in $WORK/user
#   as_user CMD...             # CMD as the benchmark user, clean environment; NAME=VALUE first adds to it
#   bench_cleanup              # from the script's EXIT trap
#
# As root, every command runs as the unprivileged $TSBOX_BENCH_USER (default
# tsboxtest, which needs /etc/subuid and /etc/subgid ranges) through runuser:
# both tsbox and podman are measured rootless. As an ordinary user, as that user.

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=bench
WORK=
TSBOX=
TSBOX_REVISION=unknown
HOST=
REGISTRY_PID=
BENCH_PAUSE_PIDS=()
BENCH_USES_PODMAN_STORE=no

say() { printf '== %s\n' "$*" >&2; }
die() { echo "bench/$BENCH_NAME.sh: $*" >&2; exit 1; }

bench_init() {
  BENCH_NAME=$1
  BENCH_USER=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    BENCH_USER=${TSBOX_BENCH_USER:-tsboxtest}
    id "$BENCH_USER" >/dev/null 2>&1 || die "user $BENCH_USER does not exist (create it, or run npm test once as root)"
  fi
  BENCH_HOME=$(getent passwd "$BENCH_USER" | cut -d: -f6)
}

# bench_require PKG... -- CMD...: packages are installed only as root (Debian names).
bench_require() {
  local pkgs=() cmds=() missing=() p
  while [ $# -gt 0 ] && [ "$1" != -- ]; do pkgs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  cmds=("$@")
  if [ "$(id -u)" = 0 ]; then
    for p in "${pkgs[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      say "installing ${missing[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
  fi
  for p in "${cmds[@]}"; do
    command -v "$p" >/dev/null || die "$p is not installed"
  done
}

# A short path: conmon's socket paths under the podman runroot must fit in 108 bytes.
bench_workdir() {
  WORK=$(mktemp -d /tmp/tb.XXXXXX)
  chmod 0755 "$WORK"
  mkdir -p "$WORK/user/x"
  chmod 0700 "$WORK/user/x"
  [ "$(id -u)" = 0 ] && chown -R "$BENCH_USER": "$WORK/user"
  # The user's environment: podman's configuration and tsbox's store live in $WORK/user.
  USER_ENV=(env -i HOME="$BENCH_HOME" USER="$BENCH_USER" LOGNAME="$BENCH_USER"
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
    XDG_RUNTIME_DIR="$WORK/user/x" XDG_DATA_HOME="$WORK/user/data" XDG_CONFIG_HOME="$WORK/user/config"
    TSBOX_ROOT="$WORK/user/tsbox"
    CONTAINERS_REGISTRIES_CONF="$WORK/user/registries.conf" CONTAINERS_CONF="$WORK/user/containers.conf"
    CONTAINERS_STORAGE_CONF="$WORK/user/storage.conf")
  AS_USER=("${USER_ENV[@]}")
  [ "$(id -u)" = 0 ] && AS_USER=(runuser -u "$BENCH_USER" -- "${USER_ENV[@]}")
  return 0
}

# as_user [NAME=VALUE...] CMD...: later NAME=VALUE override the defaults (env takes the last).
as_user() { "${AS_USER[@]}" "$@"; }

# A snapshot of tsbox, so a rebuild of the shared working tree cannot change it mid-run
# (and the user may not be able to read the clone).
bench_snapshot_tsbox() {
  if [ ! -f "$BENCH_REPO/dist/bench/push-fixture.js" ] || [ ! -x "$BENCH_REPO/native-helper/tsbox-helper" ]; then
    say "building tsbox"
    (cd "$BENCH_REPO" && npm run -s build) || true
  fi
  TSBOX="$WORK/tsbox"
  mkdir -p "$TSBOX"
  cp -a "$BENCH_REPO/package.json" "$BENCH_REPO/bin" "$BENCH_REPO/dist" "$BENCH_REPO/node_modules" \
    "$BENCH_REPO/native-helper" "$TSBOX/"
  chmod -R a+rX "$TSBOX"
  TSBOX_REVISION=$(git -C "$BENCH_REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
  git -C "$BENCH_REPO" diff --quiet HEAD -- core cli native-helper 2>/dev/null || TSBOX_REVISION="$TSBOX_REVISION+changes"
}

# Debian's docker-registry on an ephemeral loopback port; sets HOST (127.0.0.1:PORT).
bench_start_registry() {
  mkdir -p "$WORK/registry"
  cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
http:
  addr: 127.0.0.1:0
  secret: tsbox-bench
EOF
  /usr/bin/docker-registry serve "$WORK/registry/config.yml" 2>"$WORK/registry/log" &
  REGISTRY_PID=$!
  local _
  for _ in $(seq 1 150); do
    HOST=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$WORK/registry/log" | head -1 | sed 's/listening on //') || true
    [ -n "$HOST" ] && break
    kill -0 "$REGISTRY_PID" 2>/dev/null || { cat "$WORK/registry/log" >&2; die "docker-registry exited"; }
    sleep 0.1
  done
  [ -n "$HOST" ] || die "docker-registry did not start in 15 s"
  say "registry on $HOST"
}

# podman's configuration for the user: the registry is plain HTTP; runc with
# cgroupfs, since crun refuses on hybrid cgroup hosts and there is no systemd
# user session; events to a file (no journald). The store is a scratch one in
# $WORK/user/p: rootless podman ignores graphroot (it would use the user's own
# ~/.local/share/containers/storage) but takes rootless_storage_path; a script
# may point CONTAINERS_STORAGE_CONF and XDG_DATA_HOME elsewhere.
bench_podman_conf() {
  BENCH_USES_PODMAN_STORE=yes
  cat >"$WORK/user/registries.conf" <<EOF
unqualified-search-registries = []

[[registry]]
location = "$HOST"
insecure = true
EOF
  cat >"$WORK/user/policy.json" <<EOF
{"default": [{"type": "insecureAcceptAnything"}]}
EOF
  cat >"$WORK/user/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
  cat >"$WORK/user/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/user/p/graph"
rootless_storage_path = "$WORK/user/p/graph"
runroot = "$WORK/user/p/run"
EOF
  [ "$(id -u)" = 0 ] && chown -R "$BENCH_USER": "$WORK/user"
  return 0
}

# podman's rootless pause process (it outlives the commands that started it).
bench_record_pause_pid() {
  local pause="$WORK/user/x/libpod/tmp/pause.pid"
  if [ -n "$WORK" ] && [ -f "$pause" ]; then BENCH_PAUSE_PIDS+=("$(cat "$pause")"); fi
  return 0
}

bench_cleanup() {
  [ -n "$REGISTRY_PID" ] && { kill "$REGISTRY_PID" 2>/dev/null || true; }
  [ -n "$WORK" ] || return 0
  if [ -n "$TSBOX" ] && [ -d "$WORK/user/tsbox" ]; then
    # Detached containers' monitors (the helper is in the snapshot that is removed below).
    as_user timeout 120 node "$TSBOX/bin/tsbox" rm -af -t 0 >/dev/null 2>&1 || true
  fi
  if [ "$BENCH_USES_PODMAN_STORE" = yes ]; then
    as_user timeout 120 podman system reset --force >/dev/null 2>&1 || true
  fi
  bench_record_pause_pid
  local p
  for p in "${BENCH_PAUSE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ "$(id -u)" != 0 ] && [ -d "$WORK/user" ]; then
    # Files in a rootless store belong to subordinate ids: only the user's namespace can remove them.
    if [ -n "$TSBOX" ]; then
      as_user node "$TSBOX/bin/tsbox" unshare rm -rf "$WORK/user" >/dev/null 2>&1 || true
    else
      as_user podman unshare rm -rf "$WORK/user" >/dev/null 2>&1 || true
    fi
  fi
  rm -rf "$WORK" 2>/dev/null || true
}

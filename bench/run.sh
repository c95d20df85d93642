#!/usr/bin/env bash
# Start-up benchmark: a warm `tsbox run --rm IMG true` against rootless
# `podman run --rm`, `bwrap` on the same root filesystem, and `node -e 0`,
# with --network none and with each tool's default network; plus the peak
# memory of tsbox (its node process) and of the helper (with the container).
#
#   bench/run.sh [--runs N] [--no-record]
#
# Runs as root (every command then runs as the unprivileged $TSBOX_BENCH_USER,
# default tsboxtest, through runuser) or as an ordinary user. Uses hyperfine
# and, for podman on hybrid cgroup hosts, runc with cgroup_manager=cgroupfs
# (crun refuses there). Results are appended to BENCHMARKS.md.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=20
RECORD=yes
COMMAND_LINE="bench/run.sh $*"
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --no-record) RECORD=no; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
say() { printf '== %s\n' "$*" >&2; }

if [ "$(id -u)" = 0 ]; then
  missing=()
  for p in hyperfine runc podman bubblewrap docker-registry skopeo; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
for tool in hyperfine podman bwrap docker-registry node; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is not installed" >&2; exit 1; }
done

BENCH_USER=$(id -un)
[ "$(id -u)" = 0 ] && BENCH_USER=${TSBOX_BENCH_USER:-tsboxtest}
BENCH_HOME=$(getent passwd "$BENCH_USER" | cut -d: -f6)
WORK=$(mktemp -d /tmp/tbr.XXXXXX)  # short: conmon's socket paths must fit in 108 bytes
chmod 0755 "$WORK"
REGISTRY_PID=
cleanup() {
  [ -n "$REGISTRY_PID" ] && kill "$REGISTRY_PID" 2>/dev/null || true
  as_user env XDG_RUNTIME_DIR="$WORK/user/x" CONTAINERS_CONF="$WORK/user/containers.conf" \
    CONTAINERS_STORAGE_CONF="$WORK/user/storage.conf" podman system reset --force >/dev/null 2>&1 || true
  as_user node "$TSBOX/bin/tsbox" unshare rm -rf "$WORK/user" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A snapshot of tsbox, so a rebuild of the working tree cannot change it mid-run.
TSBOX="$WORK/tsbox"
mkdir -p "$TSBOX"
cp -a "$REPO/bin" "$REPO/dist" "$REPO/native-helper" "$REPO/node_modules" "$REPO/package.json" "$TSBOX/"

mkdir -p "$WORK/user/x"
chmod 0700 "$WORK/user/x"
[ "$(id -u)" = 0 ] && chown -R "$BENCH_USER": "$WORK/user"
USER_ENV=(env -i HOME="$BENCH_HOME" USER="$BENCH_USER" LOGNAME="$BENCH_USER" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
  XDG_RUNTIME_DIR="$WORK/user/x" TSBOX_ROOT="$WORK/user/tsbox"
  CONTAINERS_REGISTRIES_CONF="$WORK/user/registries.conf" CONTAINERS_CONF="$WORK/user/containers.conf"
  CONTAINERS_STORAGE_CONF="$WORK/user/storage.conf")
AS_USER=("${USER_ENV[@]}")
[ "$(id -u)" = 0 ] && AS_USER=(runuser -u "$BENCH_USER" -- "${USER_ENV[@]}")
as_user() { "${AS_USER[@]}" "$@"; }

# ---- a registry on loopback with the busybox fixture
mkdir -p "$WORK/registry"
printf 'version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:0\n  secret: bench\n' \
  "$WORK/registry/data" >"$WORK/registry/config.yml"
docker-registry serve "$WORK/registry/config.yml" 2>"$WORK/registry/log" &
REGISTRY_PID=$!
HOST=
for _ in $(seq 1 100); do
  HOST=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$WORK/registry/log" | head -1 | cut -d' ' -f3) || true
  [ -n "$HOST" ] && break
  sleep 0.1
done
[ -n "$HOST" ] || { echo "bench/run.sh: docker-registry did not start" >&2; cat "$WORK/registry/log" >&2; exit 1; }
REF=$(node "$REPO/dist/bench/push-fixture.js" --registry "$HOST" --name busybox)
say "image $REF"

cat >"$WORK/user/registries.conf" <<CONF
unqualified-search-registries = []
[[registry]]
location = "$HOST"
insecure = true
CONF
cat >"$WORK/user/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
cat >"$WORK/user/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$WORK/user/p/graph"
runroot = "$WORK/user/p/run"
CONF
[ "$(id -u)" = 0 ] && chown -R "$BENCH_USER": "$WORK/user"

as_user node "$TSBOX/bin/tsbox" pull -q "$REF" >/dev/null
as_user podman pull -q --tls-verify=false "$REF" >/dev/null
ROOTFS=$(ls -d "$WORK"/user/tsbox/layers/*/diff | head -1)

# ---- timings
T="node $TSBOX/bin/tsbox"
as_user hyperfine --style basic --warmup 3 --runs "$RUNS" --export-json "$WORK/user/times.json" \
  -n 'node -e 0' 'node -e 0' \
  -n 'bwrap' "bwrap --unshare-all --die-with-parent --ro-bind $ROOTFS / --proc /proc --dev /dev /bin/true" \
  -n 'tsbox --network none' "$T run --rm --network none $REF true" \
  -n 'podman --network none' "podman run --rm --network none $REF true" \
  -n 'tsbox default network' "$T run --rm $REF true" \
  -n 'podman default network' "podman run --rm $REF true" >&2

# ---- peak memory (KiB): tsbox's own process, and the helper with its container
cat >"$WORK/user/helper-rss" <<WRAP
#!/bin/sh
exec /usr/bin/time -f %M -o "$WORK/user/helper-rss.out" "$TSBOX/native-helper/tsbox-helper" "\$@"
WRAP
chmod 0755 "$WORK/user/helper-rss"
as_user /usr/bin/time -f %M -o "$WORK/user/tsbox-rss.out" env TSBOX_HELPER="$WORK/user/helper-rss" \
  node "$TSBOX/bin/tsbox" run --rm --network none "$REF" true
TSBOX_RSS=$(tail -1 "$WORK/user/tsbox-rss.out")
HELPER_RSS=$(tail -1 "$WORK/user/helper-rss.out")

REPORT=$(node - "$WORK/user/times.json" "$TSBOX_RSS" "$HELPER_RSS" <<'JS'
const [file, tsboxRss, helperRss] = process.argv.slice(2);
const { results } = JSON.parse(require('fs').readFileSync(file, 'utf8'));
const ms = (name) => results.find((r) => r.command === name).median * 1000;
const rows = results.map((r) => `| ${r.command} | ${(r.median * 1000).toFixed(1)} | ${(r.mean * 1000).toFixed(1)} ± ${(r.stddev * 1000).toFixed(1)} |`);
const ratio = (a, b) => (ms(a) / ms(b)).toFixed(2);
console.log(['| command | median (ms) | mean ± sd (ms) |', '|---|---|---|', ...rows, '',
  `tsbox/podman with --network none: ${ratio('tsbox --network none', 'podman --network none')} (target ≤ 0.25)`,
  `tsbox/podman with the default network: ${ratio('tsbox default network', 'podman default network')} (target ≤ 0.2)`,
  `tsbox --network none / (node -e 0 + bwrap): ${(ms('tsbox --network none') / (ms('node -e 0') + ms('bwrap'))).toFixed(2)} (target ≤ 1.5)`,
  `peak RSS: tsbox (node) ${(tsboxRss / 1024).toFixed(1)} MiB, helper with its container ${(helperRss / 1024).toFixed(1)} MiB`].join('\n'));
JS
)
echo "$REPORT"
if [ "$RECORD" = yes ]; then
  {
    printf '\n## run, %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'Command: `%s` (as %s, rootless; hyperfine, %s runs after 3 warm-ups)  \n' "$COMMAND_LINE" "$BENCH_USER" "$RUNS"
    printf 'Machine: %s CPUs, Linux %s; image: the busybox fixture from a registry on 127.0.0.1  \n' "$(nproc)" "$(uname -r)"
    printf 'Versions: tsbox %s (%s), %s, runc %s, bwrap %s, node %s\n\n' "$(node -p "require('$REPO/package.json').version")" \
      "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" "$(podman --version)" \
      "$(runc --version | head -1 | awk '{print $3}')" "$(bwrap --version | awk '{print $2}')" "$(node --version)"
    echo "$REPORT"
  } >>"$REPO/BENCHMARKS.md"
  say "appended to BENCHMARKS.md"
fi

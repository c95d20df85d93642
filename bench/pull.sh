#!/usr/bin/env bash
# Pull benchmark: tsbox pull vs rootless podman pull vs skopeo copy (download
# only) of one large multi-layer image from a registry on 127.0.0.1.
#
#   bench/pull.sh [--rounds N] [--size-mb MB] [--layers N] [--only tsbox,podman,skopeo] [--no-record]
#
# Builds the image once (cached in $TSBOX_BENCH_CACHE, default
# ~/.cache/tsbox-bench; see test/lib/fixtures.ts `big`), starts Debian's
# docker-registry on an ephemeral port, pushes the image, then runs every
# round cold: a fresh tsbox store, a fresh podman graphroot, a fresh skopeo
# directory. Tools alternate within a round so they see the same machine
# state. Prints medians and the tsbox/podman ratio and appends them, with the
# command line, to BENCHMARKS.md.
#
# As root, every pull runs as the unprivileged user $TSBOX_BENCH_USER
# (default tsboxtest, which needs /etc/subuid and /etc/subgid ranges) through
# runuser: both tools are measured rootless. As an ordinary user, as that user.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
REPO=$BENCH_REPO
ROUNDS=3
SIZE_MB=1024
LAYERS=5
ONLY=tsbox,podman,skopeo
RECORD=yes
COMMAND_LINE="bench/pull.sh $*"
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --size-mb) SIZE_MB=$2; shift 2 ;;
    --layers) LAYERS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --no-record) RECORD=no; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "bench/pull.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
PULL_TIMEOUT=${TSBOX_BENCH_PULL_TIMEOUT:-900}

wants() { [[ ",$ONLY," == *",$1,"* ]]; }

bench_init pull
bench_require docker-registry podman skopeo -- docker-registry podman skopeo node
CACHE=${TSBOX_BENCH_CACHE:-$HOME/.cache/tsbox-bench}
bench_workdir
trap bench_cleanup EXIT
bench_start_registry
bench_snapshot_tsbox
TSBOX_DIR=$TSBOX

# ---- the image
say "building (or reusing) a ${SIZE_MB} MiB image in $LAYERS layers under $CACHE, pushing it"
mkdir -p "$CACHE"
IMAGE_JSON=$(timeout 3600 node "$TSBOX_DIR/dist/bench/push-big-image.js" --registry "$HOST" --size-mb "$SIZE_MB" --layers "$LAYERS" --cache "$CACHE")
json() { node -e 'const v = JSON.parse(process.argv[1])[process.argv[2]]; console.log(v)' "$IMAGE_JSON" "$1"; }
REF=$(json reference)
say "image $REF: $(json layers) layers, $(( $(json compressedBytes) / 1048576 )) MiB compressed, $(( $(json unpackedBytes) / 1048576 )) MiB unpacked (build $(json buildSeconds) s, push $(json pushSeconds) s)"

# ---- configuration shared by the tools (the per-round stores are set below)
bench_podman_conf
COMMON_ENV=(TMPDIR="$WORK/user")

# Runs one timed pull as the user; sets RESULT to the seconds, or "failed" (its log stays in $WORK/user).
RESULT=
timed() {
  local name=$1; shift
  local log="$WORK/user/$name.log" start end status=0
  start=$(date +%s.%N)
  timeout "$PULL_TIMEOUT" "${AS_USER[@]}" "$@" >"$log" 2>&1 || status=$?
  end=$(date +%s.%N)
  if [ "$status" = 0 ]; then
    RESULT=$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.2f", e-s}')
  else
    RESULT=failed
    say "$name failed (exit $status); last lines of its output:"
    tail -n 5 "$log" >&2
  fi
}

pull_tsbox() {
  local d="$WORK/user/tsbox-$1"
  as_user mkdir -p "$d"
  timed "tsbox-$1" "${COMMON_ENV[@]}" TSBOX_ROOT="$d/store" XDG_DATA_HOME="$d/data" XDG_CONFIG_HOME="$d/config" \
    node "$TSBOX_DIR/bin/tsbox" pull "$REF"
}

pull_podman() {
  local d="$WORK/user/podman-$1"
  as_user mkdir -p "$d"
  as_user sh -c "cat >'$d/storage.conf'" <<EOF
[storage]
driver = "overlay"
graphroot = "$d/graph"
runroot = "$d/run"
EOF
  timed "podman-$1" "${COMMON_ENV[@]}" CONTAINERS_STORAGE_CONF="$d/storage.conf" XDG_CONFIG_HOME="$d/config" XDG_DATA_HOME="$d/data" \
    podman pull --quiet "$REF"
  bench_record_pause_pid
}

# rm -rf inside the user's namespace (as root, plain rm -rf does it).
remove_as_user() {
  if [ "$(id -u)" = 0 ]; then
    rm -rf "$@"
  else
    as_user podman unshare rm -rf "$@" >/dev/null 2>&1 || rm -rf "$@" 2>/dev/null || true
  fi
}

pull_skopeo() {
  local d="$WORK/user/skopeo-$1"
  timed "skopeo-$1" "${COMMON_ENV[@]}" skopeo --policy "$WORK/user/policy.json" copy --quiet \
    --src-tls-verify=false "docker://$REF" "dir:$d"
}

# Removes a round's stores so the disk holds one copy at a time.
clear_round() {
  remove_as_user "$WORK/user/tsbox-$1" "$WORK/user/podman-$1" "$WORK/user/skopeo-$1"
}

declare -A TIMES=() DISK=()
for round in $(seq 1 "$ROUNDS"); do
  for tool in tsbox podman skopeo; do
    wants "$tool" || continue
    pull_"$tool" "$round"
    TIMES[$tool]="${TIMES[$tool]:-} $RESULT"
    # What the tool left on disk: a pull that unpacks nothing would show here.
    [ "$round" = 1 ] && DISK[$tool]=$(du -sm "$WORK/user/$tool-$round" 2>/dev/null | cut -f1 || echo '?')
    if [ "$round" = 1 ]; then say "round 1: $tool $RESULT s, ${DISK[$tool]:-?} MiB on disk"; else say "round $round: $tool $RESULT s"; fi
  done
  clear_round "$round"
done

median() {
  # the median of the numbers among the arguments; "failed" when none succeeded
  printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -n | awk '{v[NR]=$1} END{ if (NR==0) print "failed"; else if (NR%2) printf "%.2f\n", v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2 }'
}

declare -A MEDIAN=()
for tool in tsbox podman skopeo; do
  wants "$tool" || continue
  # shellcheck disable=SC2086
  MEDIAN[$tool]=$(median ${TIMES[$tool]})
done
RATIO=n/a
if [[ "${MEDIAN[tsbox]:-}" =~ ^[0-9.]+$ && "${MEDIAN[podman]:-}" =~ ^[0-9.]+$ ]]; then
  RATIO=$(awk -v a="${MEDIAN[tsbox]}" -v b="${MEDIAN[podman]}" 'BEGIN{printf "%.2f", a/b}')
fi

echo
printf '%-8s %-10s %-12s %s\n' tool median 'disk (MiB)' rounds
for tool in tsbox podman skopeo; do
  wants "$tool" || continue
  printf '%-8s %-10s %-12s %s\n' "$tool" "${MEDIAN[$tool]}" "${DISK[$tool]:-?}" "${TIMES[$tool]# }"
done
echo "tsbox/podman: $RATIO"
[ "$RECORD" = yes ] || exit 0

{
  [ -s "$REPO/BENCHMARKS.md" ] || printf '# Benchmarks\n'
  printf '\n## pull, %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
  printf 'Command: `%s` (as %s, rootless)  \n' "$COMMAND_LINE" "$BENCH_USER"
  printf 'Machine: %s CPUs, %s GiB RAM, Linux %s; registry: docker-registry on 127.0.0.1 (loopback)  \n' \
    "$(nproc)" "$(awk '/MemTotal/{printf "%d", $2/1048576}' /proc/meminfo)" "$(uname -r)"
  printf 'Image: %s layers, %s MiB compressed (gzip), %s MiB unpacked; cold store each round, page cache warm  \n' \
    "$(json layers)" "$(( $(json compressedBytes) / 1048576 ))" "$(( $(json unpackedBytes) / 1048576 ))"
  printf 'Versions: tsbox %s (%s), %s, %s\n\n' "$(node -p "require('$REPO/package.json').version")" \
    "$TSBOX_REVISION" "$(podman --version)" "$(skopeo --version)"
  printf '| tool | median (s) | rounds (s) | on disk after (MiB) |\n|---|---|---|---|\n'
  for tool in tsbox podman skopeo; do
    wants "$tool" || continue
    printf '| %s | %s | %s | %s |\n' "$tool" "${MEDIAN[$tool]}" "${TIMES[$tool]# }" "${DISK[$tool]:-?}"
  done
  printf '\ntsbox/podman: %s (skopeo copy to dir: is download only, no unpack)\n' "$RATIO"
} >>"$REPO/BENCHMARKS.md"
say "appended to $REPO/BENCHMARKS.md"

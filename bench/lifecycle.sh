#!/usr/bin/env bash
# Container lifecycle benchmark (issue 4): tsbox against rootless podman, side
# by side in one hyperfine run per step, on the busybox fixture:
#   - `run -d IMG sleep 1000`, with --network none and with the default network
#     (every container is removed by hyperfine's --prepare, outside the timing);
#   - `exec C true` on a running container;
#   - `ps -a` and `ps` with 100 created containers and one running;
#   - the resident memory of the idle monitor of a detached container (tsbox's
#     helper) and of podman's conmon, from /proc/PID/status (VmRSS, VmHWM).
# Targets: exec ≤ 0.3 × podman; ps and run -d ≤ podman.
#
#   bench/lifecycle.sh [--runs N] [--containers N] [--no-record]
#
# Runs as root (every command then runs as the unprivileged $TSBOX_BENCH_USER,
# default tsboxtest, through runuser) or as an ordinary user. podman uses runc
# with cgroup_manager=cgroupfs and events_logger=file (see bench/lib.sh).
# Results are appended to BENCHMARKS.md.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
REPO=$BENCH_REPO
RUNS=20
COUNT=100
RECORD=yes
COMMAND_LINE="bench/lifecycle.sh $*"
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --containers) COUNT=$2; shift 2 ;;
    --no-record) RECORD=no; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench/lifecycle.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
bench_init lifecycle
bench_require hyperfine runc podman docker-registry -- hyperfine podman runc docker-registry node
bench_workdir
trap bench_cleanup EXIT
bench_snapshot_tsbox
bench_start_registry
REF=$(node "$TSBOX/dist/bench/push-fixture.js" --registry "$HOST" --name busybox)
say "image $REF"
bench_podman_conf

T="node $TSBOX/bin/tsbox"
as_user $T pull -q "$REF" >/dev/null
as_user podman pull -q --tls-verify=false "$REF" >/dev/null
# hyperfine runs each command in sh as the user; the prepare commands remove every container.
HF=(hyperfine --style basic --warmup 3 --runs "$RUNS")
T_CLEAR="$T rm -af -t 0 >/dev/null"
P_CLEAR="podman rm -af -t 0 >/dev/null"

# ---- run -d
say "run -d"
as_user "${HF[@]}" --export-json "$WORK/user/run-d.json" \
  --prepare "$T_CLEAR" -n 'tsbox run -d --network none' "$T run -d --network none $REF sleep 1000" \
  --prepare "$P_CLEAR" -n 'podman run -d --network none' "podman run -d --network none $REF sleep 1000" \
  --prepare "$T_CLEAR" -n 'tsbox run -d' "$T run -d $REF sleep 1000" \
  --prepare "$P_CLEAR" -n 'podman run -d' "podman run -d $REF sleep 1000" >&2
as_user sh -c "$T_CLEAR; $P_CLEAR"

# ---- exec, on a container of each started with the default network
say "exec"
as_user $T run -d --name bench-exec "$REF" sleep 1000 >/dev/null
as_user podman run -d --name bench-exec "$REF" sleep 1000 >/dev/null
as_user "${HF[@]}" --export-json "$WORK/user/exec.json" \
  -n 'tsbox exec' "$T exec bench-exec true" \
  -n 'podman exec' "podman exec bench-exec true" >&2

# ---- the idle monitors' memory, before ps adds containers (the exec container's monitor has been idle through ps -a)
sleep 2
rss() { # KiB: VmRSS and VmHWM of PID
  awk '/^VmRSS:/{r=$2} /^VmHWM:/{h=$2} END{print r, h}' "/proc/$1/status"
}
TSBOX_MONITOR=$(as_user $T inspect --format '{{.State.ConmonPid}}' bench-exec)
CONMON=$(as_user podman inspect --format '{{.State.ConmonPid}}' bench-exec)
[ "$TSBOX_MONITOR" -gt 0 ] && [ "$CONMON" -gt 0 ] || die "no monitor pid (tsbox $TSBOX_MONITOR, podman $CONMON)"
MONITOR_CMD=$(tr '\0' ' ' <"/proc/$TSBOX_MONITOR/cmdline" | cut -c1-60)
CONMON_CMD=$(tr '\0' ' ' <"/proc/$CONMON/cmdline" | cut -c1-60)
say "tsbox monitor $TSBOX_MONITOR ($MONITOR_CMD), conmon $CONMON ($CONMON_CMD)"
read -r TSBOX_RSS TSBOX_HWM < <(rss "$TSBOX_MONITOR")
read -r CONMON_RSS CONMON_HWM < <(rss "$CONMON")

# ---- ps: COUNT created containers each, plus the running exec container
say "creating $COUNT containers with each tool"
for i in $(seq 1 "$COUNT"); do
  echo "$T create --name c$i $REF sleep 1000 >/dev/null"
  echo "podman create --name c$i $REF sleep 1000 >/dev/null"
done >"$WORK/user/create.sh"
as_user sh -e "$WORK/user/create.sh"
TSBOX_ALL=$(as_user $T ps -aq | wc -l)
PODMAN_ALL=$(as_user podman ps -aq | wc -l)
[ "$TSBOX_ALL" = "$PODMAN_ALL" ] || die "tsbox lists $TSBOX_ALL containers, podman $PODMAN_ALL"
say "ps"
as_user "${HF[@]}" --export-json "$WORK/user/ps.json" \
  -n 'tsbox ps -a' "$T ps -a" \
  -n 'podman ps -a' "podman ps -a" \
  -n 'tsbox ps' "$T ps" \
  -n 'podman ps' "podman ps" >&2
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

REPORT=$(node - "$WORK/user" "$TSBOX_ALL" "$TSBOX_RSS $TSBOX_HWM $CONMON_RSS $CONMON_HWM" <<'JS'
const [dir, count, mem] = process.argv.slice(2);
const fs = require('fs');
const results = ['run-d', 'exec', 'ps'].flatMap((f) => JSON.parse(fs.readFileSync(`${dir}/${f}.json`, 'utf8')).results);
const get = (name) => results.find((r) => r.command === name);
const rows = results.map((r) => `| ${r.command} | ${(r.median * 1000).toFixed(1)} | ${(r.mean * 1000).toFixed(1)} ± ${(r.stddev * 1000).toFixed(1)} |`);
const compare = (label, a, b, target) => {
  const median = get(a).median / get(b).median;
  const mean = get(a).mean / get(b).mean;
  const met = median <= target ? 'met' : 'not met';
  return `| ${label} | ${median.toFixed(2)} | ${mean.toFixed(2)} | ≤ ${target} | ${met} |`;
};
const [tRss, tHwm, cRss, cHwm] = mem.split(' ').map((k) => (Number(k) / 1024).toFixed(2));
console.log([
  '| command | median (ms) | mean ± sd (ms) |', '|---|---|---|', ...rows, '',
  '| tsbox/podman | median ratio | mean ratio | target | (on the median) |', '|---|---|---|---|---|',
  compare('run -d --network none', 'tsbox run -d --network none', 'podman run -d --network none', 1),
  compare('run -d, default network', 'tsbox run -d', 'podman run -d', 1),
  compare('exec', 'tsbox exec', 'podman exec', 0.3),
  compare(`ps -a (${count} containers)`, 'tsbox ps -a', 'podman ps -a', 1),
  compare(`ps (1 running of ${count})`, 'tsbox ps', 'podman ps', 1),
  '',
  `idle monitor of a detached container: tsbox-helper ${tRss} MiB resident (peak ${tHwm}), conmon ${cRss} MiB (peak ${cHwm})`,
].join('\n'));
JS
)
echo "$REPORT"
echo "load average: $LOAD_START at the start, $LOAD_END at the end"
if [ "$RECORD" = yes ]; then
  {
    printf '\n## lifecycle, %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'Command: `%s` (as %s, rootless; hyperfine, %s runs after 3 warm-ups)  \n' "$COMMAND_LINE" "$BENCH_USER" "$RUNS"
    printf 'Machine: %s CPUs, Linux %s; load average (1, 5, 15 min) %s at the start, %s at the end  \n' \
      "$(nproc)" "$(uname -r)" "$LOAD_START" "$LOAD_END"
    printf 'Image: the busybox fixture from a registry on 127.0.0.1; podman: runc, cgroupfs, events to a file  \n'
    printf 'Versions: tsbox %s (%s), %s, runc %s, conmon %s, node %s\n\n' "$(node -p "require('$REPO/package.json').version")" \
      "$TSBOX_REVISION" "$(podman --version)" "$(runc --version | head -1 | awk '{print $3}')" \
      "$(conmon --version 2>/dev/null | head -1 | awk '{print $3}')" "$(node --version)"
    echo "$REPORT"
  } >>"$REPO/BENCHMARKS.md"
  say "appended to BENCHMARKS.md"
fi

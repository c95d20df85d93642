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

. "$(dirname "$0")/lib.sh"
REPO=$BENCH_REPO
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

bench_init run
bench_require hyperfine runc podman bubblewrap docker-registry skopeo -- hyperfine podman bwrap docker-registry node
bench_workdir
trap bench_cleanup EXIT
bench_snapshot_tsbox
bench_start_registry
REF=$(node "$TSBOX/dist/bench/push-fixture.js" --registry "$HOST" --name busybox)
say "image $REF"
bench_podman_conf

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
      "$TSBOX_REVISION" "$(podman --version)" \
      "$(runc --version | head -1 | awk '{print $3}')" "$(bwrap --version | awk '{print $2}')" "$(node --version)"
    echo "$REPORT"
  } >>"$REPO/BENCHMARKS.md"
  say "appended to BENCHMARKS.md"
fi

#!/usr/bin/env bash
# The whole test suite: `npm test`.
#
# As root (CI, a fresh machine): installs the Debian packages the tests need,
# creates an unprivileged user with /etc/subuid and /etc/subgid ranges, and
# runs every tier as that user, since tsbox is a rootless tool. As an ordinary
# user: runs the tiers this machine allows and says which it skipped and why.
# Ends with `N passed, N failed, N skipped` on a line of its own.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
TEST_USER=${TSBOX_TEST_USER:-tsboxtest}
DEB_PACKAGES=(uidmap slirp4netns passt fuse-overlayfs docker-registry skopeo busybox-static bubblewrap apache2-utils attr zstd iproute2 make gcc libc6-dev groff-base man-db zsh fish)

say() { printf '== %s\n' "$*"; }

install_debian_packages() {
  local missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Gives $TEST_USER a subordinate id range that overlaps no other.
ensure_test_user() {
  if ! id "$TEST_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$TEST_USER"
  fi
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -q "^$TEST_USER:" "$f"; then
      local start
      start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")
      echo "$TEST_USER:$start:65536" >>"$f"
    fi
  done
}

userns_works() {
  # $1: a command prefix that runs as the user to check (may be empty)
  "$@" unshare --user --map-root-user true >/dev/null 2>&1
}

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error --ignore-scripts
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  install_debian_packages
fi
# Rootless networking (slirp4netns, pasta) opens /dev/net/tun; some images ship it root-only.
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ]; then
  chmod 0666 /dev/net/tun
fi
# fuse-overlayfs (TSBOX_OVERLAY=fuse, the fallback root) opens /dev/fuse; some images ship it root-only too.
if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ]; then
  chmod 0666 /dev/fuse
fi

say "building"
npm run -s build

RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
status=0

if [ "$(id -u)" = 0 ]; then
  ensure_test_user
  # The test user works on its own copy: the clone's folders may not be open to it.
  WORK=$(mktemp -d /tmp/tsbox-ci.XXXXXX)
  cp -a "$REPO/." "$WORK/"
  chown -R "$TEST_USER": "$WORK"
  chmod 0755 "$WORK"
  chmod a+w "$RESULTS"
  # A small filesystem on which the tests fill the disk for real.
  SMALL_DISK=$(mktemp -d /tmp/tsbox-small-disk.XXXXXX)
  if mount -t tmpfs -o size=24m,mode=0755,uid="$(id -u "$TEST_USER")",gid="$(id -g "$TEST_USER")" tmpfs "$SMALL_DISK"; then
    SMALL_DISK_ENV=TSBOX_TEST_SMALL_DISK=$SMALL_DISK
  else
    say "cannot mount a small tmpfs: the full-disk test will be skipped"
    SMALL_DISK_ENV=TSBOX_TEST_SMALL_DISK=
  fi
  trap 'rm -f "$RESULTS"; umount "$SMALL_DISK" 2>/dev/null; rmdir "$SMALL_DISK" 2>/dev/null; rm -rf "$WORK" 2>/dev/null || true' EXIT
  as_user=(runuser -u "$TEST_USER" -- env -i HOME="$(getent passwd "$TEST_USER" | cut -d: -f6)" USER="$TEST_USER" LOGNAME="$TEST_USER" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin CI="${CI:-}" TSBOX_TEST_FILTER="${TSBOX_TEST_FILTER:-}" "$SMALL_DISK_ENV")
  say "running the tests as the unprivileged user $TEST_USER in $WORK"
  cd "$WORK"
  "${as_user[@]}" node dist/test/run.js --tier unit --results "$RESULTS" dist/test/unit || status=1
  if userns_works "${as_user[@]}"; then
    "${as_user[@]}" node dist/test/run.js --tier rootless --results "$RESULTS" dist/test/helper dist/test/cli dist/test/integration || status=1
  else
    say "SKIPPED tier rootless: user $TEST_USER cannot create a user namespace (check sysctl kernel.unprivileged_userns_clone and user.max_user_namespaces, or AppArmor's restriction on unprivileged user namespaces)"
    echo "rootless-skipped 0 0 0" >>"$RESULTS"
  fi
  cd "$REPO"
else
  node dist/test/run.js --tier unit --results "$RESULTS" dist/test/unit || status=1
  if ! userns_works; then
    say "SKIPPED tier rootless: this user cannot create a user namespace (check sysctl kernel.unprivileged_userns_clone and user.max_user_namespaces)"
  elif ! grep -q "^$(id -un):" /etc/subuid 2>/dev/null; then
    say "SKIPPED tier rootless: no /etc/subuid range for $(id -un) (add one, e.g. $(id -un):100000:65536, or run npm test as root to create a test user)"
  else
    node dist/test/run.js --tier rootless --results "$RESULTS" dist/test/helper dist/test/cli dist/test/integration || status=1
  fi
fi

read -r passed failed skipped < <(awk '{p+=$2; f+=$3; s+=$4} END{print p+0, f+0, s+0}' "$RESULTS")
if [ "$passed" = 0 ] && [ "$failed" = 0 ]; then
  echo "no test ran"
  status=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $status

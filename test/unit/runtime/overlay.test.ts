// planOverlay: which overlay mounts a container's root, and the one-line
// errors when none can; its helper options; the fuse-overlayfs marker.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSpec } from '../../../core/runtime/spec.js';
import { helperArgs } from '../../../core/runtime/helper-args.js';
import { markFuse, onFuseFallback, overlayHelperArgs, overlayHost, planOverlay, writtenByFuse, OverlayUnavailableError, type OverlayHost } from '../../../core/runtime/overlay.js';
import type { Reporter } from '../../../core/progress.js';

const FUSE = '/usr/bin/fuse-overlayfs';
const recent: OverlayHost = { kernel: '6.1.0-18-amd64', nativeInUserns: true, fuseOverlayfs: FUSE };
const old: OverlayHost = { kernel: '5.10.0-28-amd64', nativeInUserns: false, fuseOverlayfs: FUSE };
const bare = (host: OverlayHost): OverlayHost => ({ ...host, fuseOverlayfs: undefined });

function refusal(fn: () => unknown): OverlayUnavailableError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, OverlayUnavailableError);
    assert.is((err as OverlayUnavailableError).exitCode, 125);
    return err as OverlayUnavailableError;
  }
  throw new Error('expected a refusal');
}

test('unset: the kernel\'s overlay with fuse-overlayfs as the fallback; fuse-overlayfs alone on an old kernel', () => {
  assert.equal(planOverlay(undefined, recent), { mode: 'native-or-fuse', fuseOverlayfs: FUSE });
  assert.equal(planOverlay('', bare(recent)), { mode: 'native' });
  assert.equal(planOverlay(undefined, old), { mode: 'fuse', fuseOverlayfs: FUSE });
  const none = refusal(() => planOverlay(undefined, bare(old)));
  assert.is(none.message, 'Linux 5.10.0-28-amd64 cannot mount overlayfs in a user namespace and fuse-overlayfs is not installed');
  assert.is(none.hint, 'install the fuse-overlayfs package, or upgrade to Linux 5.11 or later');
});

test('TSBOX_OVERLAY forces one, without fallback; a bad value is refused', () => {
  assert.equal(planOverlay('native', old), { mode: 'native' });
  assert.equal(planOverlay('fuse', recent), { mode: 'fuse', fuseOverlayfs: FUSE });
  assert.is(refusal(() => planOverlay('fuse', bare(recent))).message, 'TSBOX_OVERLAY=fuse, but fuse-overlayfs is not installed');
  assert.is(refusal(() => planOverlay('overlay', recent)).message, 'TSBOX_OVERLAY=overlay: expected native or fuse');
});

test('a container fuse-overlayfs has written stays on it', () => {
  assert.equal(planOverlay(undefined, recent, true), { mode: 'fuse', fuseOverlayfs: FUSE });
  assert.equal(planOverlay('fuse', recent, true), { mode: 'fuse', fuseOverlayfs: FUSE });
  assert.match(refusal(() => planOverlay('native', recent, true)).message, /^TSBOX_OVERLAY=native, but fuse-overlayfs has written/);
  assert.match(refusal(() => planOverlay(undefined, bare(recent), true)).message, /and it is not installed$/);
});

test('helper options: after --overlay, none for the kernel\'s', () => {
  assert.equal(overlayHelperArgs(undefined), []);
  assert.equal(overlayHelperArgs({ mode: 'native' }), []);
  assert.equal(overlayHelperArgs({ mode: 'fuse', fuseOverlayfs: FUSE }), ['--fuse-overlayfs', FUSE]);
  assert.equal(overlayHelperArgs({ mode: 'native-or-fuse', fuseOverlayfs: FUSE }), ['--fuse-overlayfs-fallback', FUSE]);
  const L0 = `sha256:${'a'.repeat(64)}`;
  const spec = buildSpec({ rootfs: { type: 'layers', diff_ids: [L0] }, config: {} }, { id: 'f'.repeat(64), command: ['true'], layers: [L0] });
  const single = { uids: [{ inside: 0, outside: 1000, count: 1 }], gids: [{ inside: 0, outside: 1000, count: 1 }], full: false };
  const args = helperArgs(spec, { layersDir: '/s/layers', upper: '/u', work: '/w', merged: '/m', statusFd: 4, mapping: single, tools: undefined, own: { uid: 1000, gid: 1000 }, overlay: { mode: 'fuse', fuseOverlayfs: FUSE } });
  const at = args.indexOf('--overlay');
  assert.equal(args.slice(at, at + 6), ['--overlay', '/u', '/w', '/m', '--fuse-overlayfs', FUSE]);
});

test('TSBOX_FUSE_OVERLAYFS names the program: an absolute path to an executable, else none', () => {
  assert.is(overlayHost({ TSBOX_FUSE_OVERLAYFS: '/bin/sh' }).fuseOverlayfs, '/bin/sh');
  assert.is(overlayHost({ TSBOX_FUSE_OVERLAYFS: 'sh' }).fuseOverlayfs, undefined);
  assert.is(overlayHost({ TSBOX_FUSE_OVERLAYFS: '/nonexistent/fuse-overlayfs' }).fuseOverlayfs, undefined);
  assert.is(overlayHost({ PATH: '/nonexistent' }).fuseOverlayfs, undefined);
});

test('the marker: written for fuse, not for the kernel\'s; the fallback event writes it and warns once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-overlay-'));
  try {
    markFuse(dir, { mode: 'native-or-fuse', fuseOverlayfs: FUSE });
    assert.not.ok(writtenByFuse(dir));
    markFuse(dir, { mode: 'fuse', fuseOverlayfs: FUSE });
    assert.ok(writtenByFuse(dir));
    rmSync(join(dir, 'fuse-overlayfs'));
    const warnings: string[] = [];
    const reporter = { warn: (m: string) => warnings.push(m) } as unknown as Reporter;
    onFuseFallback(dir, 'EPERM', reporter);
    assert.ok(existsSync(join(dir, 'fuse-overlayfs')));
    assert.equal(warnings, ['the kernel refused to mount overlayfs in the user namespace (EPERM): using fuse-overlayfs']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

// Builds layer tarballs for the unpack tests with tar-stream's packer, and
// compresses them with encoders that are not the decoders under test
// (zlib for gzip, the zstd command-line tool for zstd).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import type { Reporter } from '../../../core/progress.js';
import { HELPER_BIN } from '../../lib/tsbox.js';
import { withTimeout } from '../../lib/timeout.js';

export const HELPER = process.env.TSBOX_HELPER ?? HELPER_BIN;

/** 2023-11-14T22:13:20Z: a whole second, so it survives the ustar header. */
export const MTIME = new Date(1_700_000_000_000);

export interface LayerEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device' | 'block-device';
  content?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  pax?: Record<string, string>;
  devmajor?: number;
  devminor?: number;
}

export async function buildTar(entries: LayerEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk) => void chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    // Passing the content, if only an empty one, makes the packer close the entry itself.
    const content = Buffer.from(entry.content ?? '');
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: entry.name,
        type,
        mode: entry.mode ?? (type === 'directory' ? 0o755 : 0o644),
        uid: entry.uid ?? 0,
        gid: entry.gid ?? 0,
        mtime: entry.mtime ?? MTIME,
        linkname: entry.linkname,
        pax: entry.pax,
        devmajor: entry.devmajor,
        devminor: entry.devminor,
        size: content.length,
      };
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      pack.entry(header, content, done);
    });
  }
  pack.finalize();
  await withTimeout(ended, 30_000, 'tar pack to finish');
  return Buffer.concat(chunks);
}

export function gzip(data: Buffer): Buffer {
  return gzipSync(data);
}

export function zstd(data: Buffer): Buffer {
  const result = spawnSync('zstd', ['-q', '-c', '-3'], { input: data, maxBuffer: 1 << 30, timeout: 60_000 });
  if (result.status !== 0) throw new Error(`zstd failed: ${result.stderr}`);
  return result.stdout;
}

/** sha256 by the coreutils tool, so the expected diff id does not come from Node's hash. */
export function sha256sum(data: Buffer): string {
  const result = spawnSync('sha256sum', [], { input: data, maxBuffer: 1 << 20, timeout: 60_000 });
  if (result.status !== 0) throw new Error(`sha256sum failed: ${result.stderr}`);
  return `sha256:${result.stdout.toString().split(' ')[0]}`;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Feeds `data` in small pieces, so that every boundary case of the decoders is crossed. */
export function streamOf(data: Buffer, chunkSize = 7919): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= data.length) return void this.push(null);
      this.push(data.subarray(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

/** Deterministic incompressible-looking bytes. */
export function noise(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface RecordingReporter extends Reporter {
  warnings: string[];
  debugs: string[];
}

export function recordingReporter(): RecordingReporter {
  const warnings: string[] = [];
  const debugs: string[] = [];
  return {
    warnings,
    debugs,
    start() {},
    progress() {},
    finish() {},
    info() {},
    warn(message) {
      warnings.push(message);
    },
    debug(message) {
      debugs.push(message);
    },
  };
}

/** A work area with `dest/` (empty, for the layer) and `outside/sentinel` (must never change). */
export function workArea(prefix: string): { base: string; dest: string; outside: string; sentinel: string; cleanup(): void } {
  const base = mkdtempSync(join(tmpdir(), `tsbox-unpack-${prefix}-`));
  const dest = join(base, 'dest');
  const outside = join(base, 'outside');
  mkdirSync(dest);
  mkdirSync(outside);
  const sentinel = join(outside, 'sentinel');
  writeFileSync(sentinel, 'untouched\n');
  const cleanup = () => {
    // Layers hold read-only directories, which even their owner cannot empty.
    spawnSync('chmod', ['-R', 'u+rwX', base], { timeout: 30_000 });
    try {
      rmSync(base, { recursive: true, force: true });
    } catch {
      // Files owned by subordinate ids: only root of their namespace may remove them.
      spawnSync('unshare', ['-U', '--map-auto', '--map-root-user', 'rm', '-rf', base], { timeout: 30_000 });
      rmSync(base, { recursive: true, force: true });
    }
  };
  return { base, dest, outside, sentinel, cleanup };
}

/** Whether this user may create a user namespace mapped to its /etc/subuid range (unshare --map-auto). */
export function canMapSubordinateIds(): boolean {
  const result = spawnSync('unshare', ['-U', '--map-auto', '--map-root-user', 'true'], { timeout: 10_000 });
  return result.status === 0;
}

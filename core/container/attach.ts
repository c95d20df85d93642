// The client side of a monitor's attach socket (docs/internals.md, "The
// monitor"): frames of 1 byte kind, 4 bytes big-endian length, payload.
// Output frames go to our stdout/stderr, our stdin goes in as frames, and the
// detach keys (ctrl-p ctrl-q, podman's default) leave the container running.
import { closeSync, openSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import { TsboxError } from '../errors.js';

const OUT_STDOUT = 1;
const OUT_STDERR = 2;
const OUT_EXIT = 3;
const IN_STDIN = 0;
const IN_RESIZE = 1;
const IN_EOF = 2;

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

export interface AttachStreams {
  stdin?: NodeJS.ReadStream | NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface AttachOptions {
  /** forward our stdin (-i, or a -t container) */
  stdin: boolean;
  /** the container has a terminal: ours goes raw and its size follows ours */
  tty: boolean;
  /** podman's --detach-keys format; '' disables detaching */
  detachKeys?: string;
  streams?: AttachStreams;
}

export type AttachResult = { exited: true; exitCode: number } | { exited: false; reason: 'detached' | 'closed' };

export function frame(kind: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = kind;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** `ctrl-p,ctrl-q` → the bytes 0x10 0x11; single characters as themselves. */
export function parseDetachKeys(spec: string): Buffer {
  if (spec === '') return Buffer.alloc(0);
  const bytes = spec.split(',').map((key) => {
    const ctrl = /^ctrl-([a-z@\[\\\]^_])$/.exec(key);
    if (ctrl) return ctrl[1]!.toUpperCase().charCodeAt(0) & 0x1f;
    if (key.length === 1) return key.charCodeAt(0);
    throw new TsboxError(`invalid detach keys ${JSON.stringify(spec)}`, { hint: 'use a comma-separated list like ctrl-p,ctrl-q or ctrl-a,d' });
  });
  return Buffer.from(bytes);
}

/** Connects to a monitor's attach socket; fails when nothing listens there. */
export function connectAttach(path: string): Promise<Socket> {
  // sun_path holds 108 bytes: a longer path is reached through an fd of its directory, as the monitor binds it
  let dirFd: number | undefined;
  let address = path;
  if (Buffer.byteLength(path) >= 108) {
    try {
      dirFd = openSync(dirname(path), 'r');
      address = `/proc/self/fd/${dirFd}/${basename(path)}`;
    } catch {
      // no such directory: the connection below fails and says so
    }
  }
  const closeDir = () => {
    if (dirFd !== undefined) closeSync(dirFd);
    dirFd = undefined;
  };
  return new Promise<Socket>((resolve, reject) => {
    const socket = createConnection(address);
    socket.once('connect', () => {
      closeDir();
      resolve(socket);
    });
    socket.once('error', (err) => {
      closeDir();
      const code = (err as NodeJS.ErrnoException).code;
      reject(
        new TsboxError(
          code === 'ENOENT' || code === 'ECONNREFUSED'
            ? 'can only attach to created or running containers: container state improper'
            : `connecting to the container's monitor: ${err.message}`,
        ),
      );
    });
  });
}

/**
 * Relays between `socket` (already connected) and our streams until the
 * container exits, the user detaches, or the monitor goes away.
 */
export function attachTo(socket: Socket, options: AttachOptions): Promise<AttachResult> {
  const streams: AttachStreams = options.streams ?? { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  const detachKeys = parseDetachKeys(options.detachKeys ?? DEFAULT_DETACH_KEYS);
  const stdin = options.stdin ? streams.stdin : undefined;
  const tty = options.tty && stdin !== undefined && (stdin as NodeJS.ReadStream).isTTY === true;
  const out = streams.stdout as NodeJS.WriteStream;

  return new Promise<AttachResult>((resolve) => {
    let buffered: Buffer = Buffer.alloc(0);
    let done = false;
    let matched = 0; // how much of the detach sequence the last input ended with
    const cleanups: Array<() => void> = [];
    const finish = (result: AttachResult) => {
      if (done) return;
      done = true;
      for (const cleanup of cleanups) cleanup();
      socket.destroy();
      resolve(result);
    };

    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      while (buffered.length >= 5) {
        const length = buffered.readUInt32BE(1);
        if (buffered.length < 5 + length) break;
        const kind = buffered[0];
        const payload = buffered.subarray(5, 5 + length);
        buffered = buffered.subarray(5 + length);
        if (kind === OUT_STDOUT) streams.stdout.write(payload);
        else if (kind === OUT_STDERR) streams.stderr.write(payload);
        else if (kind === OUT_EXIT) return finish({ exited: true, exitCode: payload.length >= 4 ? payload.readInt32BE(0) : 0 });
      }
    });
    socket.on('error', () => finish({ exited: false, reason: 'closed' }));
    socket.on('close', () => finish({ exited: false, reason: 'closed' }));

    if (tty) {
      const ttyIn = stdin as NodeJS.ReadStream;
      ttyIn.setRawMode(true);
      cleanups.push(() => ttyIn.setRawMode(false));
      const sendSize = () => {
        if (!out.isTTY) return;
        const size = Buffer.alloc(4);
        size.writeUInt16BE(out.rows, 0);
        size.writeUInt16BE(out.columns, 2);
        socket.write(frame(IN_RESIZE, size));
      };
      sendSize();
      process.on('SIGWINCH', sendSize);
      cleanups.push(() => process.off('SIGWINCH', sendSize));
    }

    if (stdin) {
      const onData = (chunk: Buffer | string) => {
        const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        if (detachKeys.length > 0) {
          // the sequence may span reads; its first keys have then gone to the container already, as typed
          for (let i = 0; i < data.length; i++) {
            if (data[i] === detachKeys[matched]) {
              matched++;
              if (matched === detachKeys.length) {
                const before = data.subarray(0, Math.max(0, i + 1 - detachKeys.length));
                if (before.length) socket.write(frame(IN_STDIN, before));
                return finish({ exited: false, reason: 'detached' });
              }
            } else {
              matched = data[i] === detachKeys[0] ? 1 : 0;
            }
          }
        }
        socket.write(frame(IN_STDIN, data));
      };
      const onEnd = () => {
        if (!done) socket.write(frame(IN_EOF, Buffer.alloc(0)));
      };
      stdin.on('data', onData);
      stdin.on('end', onEnd);
      stdin.resume?.();
      cleanups.push(() => {
        stdin.off('data', onData);
        stdin.off('end', onEnd);
        (stdin as NodeJS.ReadStream).pause?.();
        if ('unref' in stdin && typeof (stdin as { unref?: () => void }).unref === 'function') (stdin as { unref: () => void }).unref();
      });
    }
  });
}

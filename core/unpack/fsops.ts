// What Node cannot do itself — overlayfs whiteouts (char device 0:0), xattrs,
// fifos — is done by `tsbox-helper fsops ROOT`, fed NUL-separated operations
// on its stdin. Every path is relative to ROOT and resolved inside it by the helper.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { TsboxError } from '../errors.js';

export type FsOp =
  | { op: 'whiteout'; path: string }
  | { op: 'opaque'; path: string }
  | { op: 'xattr'; path: string; name: string; value: Buffer }
  | { op: 'fifo'; path: string; mode: number };

/** One operation in the helper's stdin format. */
export function encodeFsOp(op: FsOp): string {
  switch (op.op) {
    case 'whiteout':
    case 'opaque':
      return `${op.op}\0${op.path}\0`;
    case 'xattr':
      return `xattr\0${op.path}\0${op.name}\0${op.value.toString('hex')}\0`;
    case 'fifo':
      return `fifo\0${op.path}\0${(op.mode & 0o7777).toString(8)}\0`;
  }
}

const STDERR_LIMIT = 64 * 1024;
const BATCH_BYTES = 64 * 1024;

/** Runs `helper fsops root` on `ops`, in order; rejects with the helper's own one-line error. */
export async function runFsOps(helper: string, root: string, ops: Iterable<FsOp>, context: string): Promise<void> {
  const child = spawn(helper, ['fsops', root], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += text;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new TsboxError(`${context}: cannot run the helper ${helper}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, {
          hint: 'build it with `make -C native-helper` or set TSBOX_HELPER',
          cause: err,
        }),
      );
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  // A helper that dies early closes the pipe: its exit status says why, not EPIPE.
  child.stdin.on('error', () => {});
  const writeAll = async () => {
    let batch = '';
    for (const op of ops) {
      batch += encodeFsOp(op);
      if (batch.length >= BATCH_BYTES) {
        if (!child.stdin.write(batch)) await Promise.race([once(child.stdin, 'drain'), exited]);
        batch = '';
      }
    }
    child.stdin.end(batch);
  };
  const [{ code, signal }] = await Promise.all([exited, writeAll()]);
  if (code !== 0) {
    const line = stderr.trim().split('\n').pop() || (signal ? `killed by ${signal}` : `exit status ${code}`);
    throw new TsboxError(`${context}: ${line.replace(/^tsbox-helper:\s*/, '')}`);
  }
}

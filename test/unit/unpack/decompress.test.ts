// decoderFor reads a blob's first bytes to choose the decoder: a stream that
// has already failed (a verifier that refused the first chunk) must make it
// fail, not wait forever (Node would then exit 0 in the middle of a pull).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { decoderFor } from '../../../core/unpack/decompress.js';
import { withTimeout } from '../../lib/timeout.js';

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await withTimeout(promise, 2000, 'decoderFor to settle');
  } catch (err) {
    return err as Error;
  }
  throw new Error('decoderFor resolved');
}

test('a stream that failed before decoderFor listens: its error', async () => {
  const input = new PassThrough();
  input.on('error', () => {});
  input.destroy(new Error('blob x: more than the expected 42 bytes'));
  await new Promise((r) => setImmediate(r)); // the error event has been emitted
  const err = await failure(decoderFor(input));
  assert.is(err.message, 'blob x: more than the expected 42 bytes');
});

test('a stream that fails while decoderFor waits: its error', async () => {
  const input = new PassThrough();
  input.on('error', () => {});
  const pending = decoderFor(input);
  setTimeout(() => input.destroy(new Error('dropped')), 10);
  assert.is((await failure(pending)).message, 'dropped');
});

test('a stream closed without an error before its first bytes: an error, not a wait', async () => {
  const input = new PassThrough();
  input.destroy();
  await new Promise((r) => setImmediate(r));
  assert.match((await failure(decoderFor(input))).message, 'closed before its first bytes');
});

test('gzip and plain tar are still told apart', async () => {
  assert.is((await decoderFor(Readable.from([gzipSync(Buffer.from('x'))]))).compression, 'gzip');
  assert.is((await decoderFor(Readable.from([Buffer.from('plain tar bytes')]))).compression, 'none');
});

test.run();

// A blob's bytes as one stream, however many connections it takes: on a
// dropped connection, a 5xx or a stall it reconnects from where it stopped
// (Range: bytes=N-), or restarts and skips when the server ignores Range.
import { Readable } from 'node:stream';
import type { Reporter } from '../progress.js';
import { RegistryError } from './errors.js';
import { sleep } from './transport.js';

/** One connection's body, and how many of its first bytes are already held. */
export interface OpenedBlob {
  body: Readable;
  skip: number;
}

export interface ResumeOptions {
  digest: string;
  size: number;
  offset: number;
  /** Failed attempts in a row (without a byte of progress) before giving up. */
  tries: number;
  backoffMs: number;
  signal?: AbortSignal;
  reporter: Reporter;
  onProgress?: (bytes: number) => void;
  /** Maps a failure of the body stream to a RegistryError (transient or not). */
  mapError: (err: unknown) => Error;
}

// However much progress each connection makes, never more connections than this.
const MAX_CONNECTIONS = 100;

export function resumableBlobStream(
  first: OpenedBlob,
  open: (offset: number) => Promise<OpenedBlob>,
  options: ResumeOptions,
): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    let position = options.offset;
    let current: OpenedBlob | undefined = first;
    let failures = 0;
    let connections = 1;
    const fail = async (err: unknown) => {
      const mapped = options.mapError(err);
      if (options.signal?.aborted) throw options.signal.reason;
      if (!(mapped instanceof RegistryError) || !mapped.transient) throw mapped;
      failures++;
      if (failures >= options.tries || connections >= MAX_CONNECTIONS) throw mapped;
      const wait = options.backoffMs * 2 ** (failures - 1);
      options.reporter.debug(`blob ${options.digest}: ${mapped.message} at byte ${position}; resuming in ${wait} ms`);
      await sleep(wait, options.signal);
    };
    try {
      for (;;) {
        if (!current) {
          try {
            connections++;
            current = await open(position);
          } catch (err) {
            await fail(err);
            continue;
          }
        }
        let skip = current.skip;
        try {
          for await (const piece of current.body as AsyncIterable<Buffer>) {
            let chunk = piece;
            if (skip > 0) {
              if (chunk.length <= skip) {
                skip -= chunk.length;
                continue;
              }
              chunk = chunk.subarray(skip);
              skip = 0;
            }
            position += chunk.length;
            failures = 0;
            options.onProgress?.(position);
            yield chunk;
          }
        } catch (err) {
          current.body.destroy();
          current = undefined;
          await fail(err);
          continue;
        }
        current = undefined;
        if (position >= options.size) return;
        // A clean end before the last byte: the server cut the body short.
        await fail(new RegistryError(`blob ${options.digest}: connection ended after ${position} of ${options.size} bytes`, { transient: true }));
      }
    } finally {
      current?.body.destroy();
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

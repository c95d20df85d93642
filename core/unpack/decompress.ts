// Layer blobs arrive gzip- or zstd-compressed or as plain tar; which one is
// read from the first bytes, as containers/storage does, not from the media type.
import { Readable, Transform, type TransformCallback, type TransformOptions } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import * as fzstd from 'fzstd';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

export function detectCompression(head: Uint8Array): Compression {
  const starts = (magic: number[]) => magic.every((byte, i) => head[i] === byte);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/** fzstd's streaming decoder as a Node Transform; backpressure comes from Transform itself. */
export class ZstdDecompress extends Transform {
  private readonly decoder = new fzstd.Decompress((chunk) => {
    // Each block is a fresh array, so a view of it is safe to hand on.
    if (chunk.length > 0) this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  });

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      callback();
    } catch (err) {
      callback(zstdError(err));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      callback();
    } catch (err) {
      callback(zstdError(err));
    }
  }
}

function zstdError(err: unknown): Error {
  return new Error(`zstd: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * Reads until `count` bytes are buffered and puts them back. A stream that
 * ends sooner cannot take them back, so its bytes come back as a new stream.
 */
async function peek(input: Readable, count: number): Promise<{ head: Buffer; source: Readable }> {
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < count && !ended) {
    const chunk: Buffer | string | null = input.read();
    if (chunk !== null) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(buffer);
      length += buffer.length;
      continue;
    }
    if (input.readableEnded) break;
    // a stream that failed (or closed) before we listen sends no event any more: waiting would never end
    if (input.errored) throw input.errored;
    if (input.destroyed) throw new Error('the stream closed before its first bytes');
    ended = await new Promise<boolean>((resolve, reject) => {
      const settle = (value: boolean, err?: Error) => {
        input.off('readable', onReadable);
        input.off('end', onEnd);
        input.off('error', onError);
        input.off('close', onClose);
        if (err) reject(err);
        else resolve(value);
      };
      const onReadable = () => settle(false);
      const onEnd = () => settle(true);
      const onError = (err: Error) => settle(false, err);
      const onClose = () => settle(false, input.errored ?? new Error('the stream closed before its first bytes'));
      input.on('readable', onReadable);
      input.on('end', onEnd);
      input.on('error', onError);
      input.on('close', onClose);
    });
  }
  const head = Buffer.concat(chunks, length);
  if (ended || input.readableEnded) return { head, source: Readable.from(length > 0 ? [head] : []) };
  if (length > 0) input.unshift(head);
  return { head, source: input };
}

/**
 * Inflated bytes per output buffer. Every buffer is a round trip to libuv's
 * thread pool (and a push through the stream): 1 MiB takes an eighth of
 * the hand-offs of 128 KiB. The readable side holds one buffer before it
 * pushes back, instead of taking the slow path on every push.
 */
const INFLATE_CHUNK = 1024 * 1024;
const GUNZIP_OPTIONS: ZlibOptions & TransformOptions = { chunkSize: INFLATE_CHUNK, readableHighWaterMark: INFLATE_CHUNK };

/** The stream to read and the decoder for what it starts with (undefined: plain tar). */
export async function decoderFor(input: Readable): Promise<{ compression: Compression; source: Readable; decoder: Transform | undefined }> {
  const { head, source } = await peek(input, ZSTD_MAGIC.length);
  const compression = detectCompression(head);
  switch (compression) {
    case 'gzip':
      return { compression, source, decoder: createGunzip(GUNZIP_OPTIONS) };
    case 'zstd':
      return { compression, source, decoder: new ZstdDecompress() };
    case 'none':
      return { compression, source, decoder: undefined };
  }
}

// Worker for ownership.test.ts: run inside a user namespace mapped to the
// user's subordinate ids, it unpacks a tar file with ownership and prints
// {diffId, size, warnings} as JSON.
//
//   unshare -U --map-auto --map-root-user node unpack-in-userns.js LAYER DEST
import { createReadStream } from 'node:fs';
import { unpackLayer } from '../../../core/unpack/unpack.js';
import { HELPER, recordingReporter } from './layers.js';

const [layer, destination] = process.argv.slice(2);
if (!layer || !destination) {
  process.stderr.write('usage: unpack-in-userns LAYER DEST\n');
  process.exit(2);
}
const reporter = recordingReporter();
try {
  const result = await unpackLayer(createReadStream(layer), { destination, canChown: true, reporter, helper: HELPER, layerDigest: 'sha256:owned' });
  process.stdout.write(`${JSON.stringify({ ...result, warnings: reporter.warnings })}\n`);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

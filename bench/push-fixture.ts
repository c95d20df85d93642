// Pushes one of the test fixture images to a registry, for benchmarks.
// Prints the reference.
//
//   node dist/bench/push-fixture.js --registry 127.0.0.1:PORT [--name busybox]
import { pushBusybox, pushLayered } from '../test/lib/fixtures.js';

const pushers: Record<string, (registry: string) => Promise<string>> = {
  busybox: (registry) => pushBusybox(registry),
  layered: (registry) => pushLayered(registry),
};

function option(name: string, fallback?: string): string {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : fallback;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
}

const name = option('name', 'busybox');
const push = pushers[name];
if (!push) throw new Error(`unknown fixture ${name}: one of ${Object.keys(pushers).join(', ')}`);
process.stdout.write(`${await push(option('registry'))}\n`);

// The lazy command table (cli/command-table.ts) must name every command with
// exactly its class's paths, and load that class: a command missing from it,
// or with a path it does not list, would not be found from the command line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMAND_TABLE, groupNames, loadCommandsFor } from '../../../cli/command-table.js';
import { commands } from '../../../cli/commands/index.js';

test('every command is in the table with its own paths, and the table has nothing else', async () => {
  assert.is(COMMAND_TABLE.length, commands.length);
  for (const entry of COMMAND_TABLE) {
    const loaded = await entry.load();
    assert.ok(commands.includes(loaded), `${entry.paths[0]!.join(' ')} loads a registered command`);
    assert.equal(entry.paths, loaded.paths, `${entry.paths[0]!.join(' ')}: the class's paths`);
  }
  assert.is(new Set(await Promise.all(COMMAND_TABLE.map((e) => e.load()))).size, commands.length, 'each command once');
});

test('a command line loads the command it names, all spellings; none for help or a typo', async () => {
  const names = async (argv: string[]) => (await loadCommandsFor(argv))?.map((c) => c.paths![0]!.join(' '));
  assert.equal(await names(['ps', '-a']), ['ps']);
  assert.equal(await names(['container', 'ls', '-a']), ['ps']);
  assert.equal(await names(['volume', 'ls', '-q']), ['volume ls']);
  assert.equal(await names(['run', '--rm', 'alpine', 'ps']), ['run']);
  assert.is(await names(['pss']), undefined);
  assert.is(await names(['--help']), undefined);
  assert.equal([...groupNames()].sort(), ['container', 'image', 'system', 'volume']);
});

test.run();

// The command table (cli/command-table.ts) must name every command with
// exactly its class's paths and module: the bundle's dispatcher finds a
// command's own bundle from it, so a command missing from it, or with a path
// it does not list, would not be found from the command line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandClass } from 'clipanion';
import { COMMAND_TABLE, entryFor } from '../../../cli/command-table.js';
import { commandGroups } from '../../../cli/usage-errors.js';
import { commands } from '../../../cli/commands/index.js';
import { VERSION } from '../../../cli/version-string.js';
import { REPO_ROOT } from '../../lib/tsbox.js';

test('every command is in the table with its own paths and module, and the table has nothing else', async () => {
  assert.is(COMMAND_TABLE.length, commands.length);
  const seen = new Set<CommandClass>();
  for (const entry of COMMAND_TABLE) {
    const module = (await import(`../../../cli/commands/${entry.module}.js`)) as Record<string, CommandClass>;
    const command = module[entry.name];
    assert.ok(command && commands.includes(command), `${entry.module}.${entry.name} is a registered command`);
    assert.equal(entry.paths, command!.paths, `${entry.name}: the class's paths`);
    seen.add(command!);
  }
  assert.is(seen.size, commands.length, 'each command once');
});

test('a command line names its command by the longest path, all spellings; none for help or a typo', () => {
  const named = (argv: string[]) => entryFor(argv)?.name;
  assert.is(named(['ps', '-a']), 'PsCommand');
  assert.is(named(['container', 'ls', '-a']), 'PsCommand');
  assert.is(named(['container', 'prune']), 'ContainerPruneCommand');
  assert.is(named(['volume', 'ls', '-q']), 'VolumeLsCommand');
  assert.is(named(['run', '--rm', 'alpine', 'ps']), 'RunCommand');
  assert.is(named(['pss']), undefined);
  assert.is(named(['--help']), undefined);
  assert.is(named(['volume', '--help']), undefined);
  // the group words `tsbox GROUP --help` lists; none of them names a command alone
  assert.equal([...commandGroups(commands)].sort(), ['container', 'image', 'system', 'volume']);
  for (const group of commandGroups(commands)) assert.is(entryFor([group, '--help']), undefined, group);
});

test('the version the CLI prints is package.json\'s', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.is(VERSION, pkg.version);
});

test.run();

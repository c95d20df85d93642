// cli/parser-cache.ts: the parsers the build compiled (dist/bundle/cmd-*.parser)
// are clipanion's own machines for today's commands, parse as clipanion does,
// and are refused when they were made for other commands or are damaged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize } from 'node:v8';
import type { CommandClass } from 'clipanion';
import { newCli } from '../../../cli/cli.js';
import { COMMAND_TABLE } from '../../../cli/command-table.js';
import { compiledParser, useCompiledParser } from '../../../cli/parser-cache.js';
import { RunCommand } from '../../../cli/commands/run.js';
import { PsCommand } from '../../../cli/commands/ps.js';
import { REPO_ROOT } from '../../lib/tsbox.js';

let dir: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbox-parser-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('every command bundle has its parser, current with the command (rebuild with npm run build when this fails)', async () => {
  for (const { module, name } of COMMAND_TABLE) {
    const command = ((await import(`../../../cli/commands/${module}.js`)) as Record<string, CommandClass>)[name]!;
    const stored = deserialize(readFileSync(join(REPO_ROOT, 'dist', 'bundle', `cmd-${module}.parser`)));
    assert.equal(stored, deserialize(compiledParser(newCli([command]))), module);
  }
});

/** What clipanion makes of a command line: the options the command gets, or the error's text. */
function parsed(cli: ReturnType<typeof newCli>, argv: string[]): unknown {
  try {
    const command = cli.process(argv) as unknown as Record<string, unknown>;
    return Object.fromEntries(Object.entries(command).filter(([key]) => !['context', 'cli'].includes(key)));
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

const RUN_LINES = [
  ['run', '--rm', 'alpine', 'sh'],
  ['run', '-it', '--name', 'web', '-p', '8080:80', '-e', 'A=1', '-e', 'B', '-v', '/h:/c:ro', 'img', 'httpd', '-f', '-p', '80'],
  ['run', '--network=none', '--read-only', '--userns', 'keep-id', '-w', '/w', 'img', '--', '-x'],
  ['run', '--bogus', 'img'],
  ['run', '--rm'],
  ['run', '--name'],
  ['run', '--help'],
  ['run', '-d', '--restart', 'on-failure:3', '--cap-add', 'NET_ADMIN', '--security-opt', 'seccomp=unconfined', 'img'],
];

test('the compiled parser reads command lines exactly as clipanion compiling its own', () => {
  const path = join(dir, 'run.parser');
  writeFileSync(path, compiledParser(newCli([RunCommand])));
  const fresh = newCli([RunCommand]);
  const cached = newCli([RunCommand]);
  assert.ok(useCompiledParser(cached, path));
  for (const argv of RUN_LINES) assert.equal(parsed(cached, argv), parsed(fresh, argv), argv.join(' '));
});

test('a parser made for other commands, a damaged one or none is not used: clipanion compiles its own', () => {
  const path = join(dir, 'ps.parser');
  writeFileSync(path, compiledParser(newCli([PsCommand])));
  const cli = newCli([RunCommand]);
  assert.not.ok(useCompiledParser(cli, path), 'made for ps');
  writeFileSync(path, 'not a parser');
  assert.not.ok(useCompiledParser(cli, path), 'damaged');
  assert.not.ok(useCompiledParser(cli, join(dir, 'absent.parser')), 'absent');
  assert.equal(parsed(cli, RUN_LINES[1]!), parsed(newCli([RunCommand]), RUN_LINES[1]!));
});

test.run();

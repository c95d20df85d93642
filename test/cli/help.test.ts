// The command line a person expects: help in its three spellings, the
// version fast and verbose, the nearest right command or flag for a typo,
// colour only on a terminal, and a complete usage block for every command.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { commands } from '../../cli/commands/index.js';
import { editDistance, nearest } from '../../cli/suggest.js';
import { tidyUsage } from '../../cli/help.js';
import { colorEnabled } from '../../cli/color.js';
import { globalOptions } from '../../cli/global-options.js';
import { runTsbox } from '../lib/tsbox.js';

const tsbox = (args: string[], env: NodeJS.ProcessEnv = {}) => runTsbox(args, { env, timeoutMs: 30_000 });

test('edit distance counts a swap of neighbours as one edit', () => {
  assert.is(editDistance('rn', 'run'), 1);
  assert.is(editDistance('rnu', 'run'), 1);
  assert.is(editDistance('nmae', 'name'), 1);
  assert.is(editDistance('', 'ps'), 2);
  assert.is(editDistance('kitten', 'sitting'), 3);
});

test('nearest: one edit for short words, two for long ones, abbreviations, nothing far off', () => {
  const names = ['run', 'rm', 'rmi', 'ps', 'pull', 'images', 'inspect', 'logs', 'login'];
  assert.is(nearest('rn', names), 'run');
  assert.is(nearest('imgaes', names), 'images');
  assert.is(nearest('inspcet', names), 'inspect');
  assert.is(nearest('insp', names), 'inspect');
  assert.is(nearest('xyz', names), undefined);
  assert.is(nearest('frobnicate', names), undefined);
});

test('every command has a usage block with a category, a description, details and an example', () => {
  for (const command of commands) {
    const name = command.paths?.[0]?.join(' ') ?? '?';
    if (name.startsWith('__')) continue; // hidden machinery (shell completion), not a command people type
    const usage = command.usage;
    assert.ok(usage, `${name}: no usage`);
    assert.ok(usage!.category, `${name}: no category`);
    assert.ok(usage!.description, `${name}: no description`);
    assert.ok(usage!.details && usage!.details.trim().length > 0, `${name}: no details`);
    assert.ok(usage!.examples && usage!.examples.length > 0, `${name}: no example`);
    for (const [label, line] of usage!.examples!) assert.match(line, /\$0 /, `${name}: example "${label}" runs $0`);
  }
});

test('tsbox --help: the commands by category, one line each, and the global options', async () => {
  for (const args of [['--help'], ['-h'], ['help']]) {
    const r = await tsbox(args);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stderr, '');
    assert.match(r.stdout, /^Usage:\n {2}tsbox \[options\] \[command\]$/m);
    assert.match(r.stdout, /^Containers:\n/m);
    assert.match(r.stdout, /^Images:\n/m);
    assert.match(r.stdout, /^ {2}run +Run a command in a new container$/m);
    assert.match(r.stdout, /^ {2}volume ls +List volumes$/m);
    assert.match(r.stdout, /--log-level string/);
    assert.not.match(r.stdout, /container cleanup/, 'the monitor-only command is not listed');
    assert.not.match(r.stdout, /\x1b\[/, 'no colour into a pipe');
  }
});

test('tsbox help run and tsbox run --help print the same help for run', async () => {
  const viaHelp = await tsbox(['help', 'run']);
  const viaFlag = await tsbox(['run', '--help']);
  assert.is(viaHelp.code, 0, viaHelp.stderr);
  assert.is(viaFlag.code, 0, viaFlag.stderr);
  assert.is(viaHelp.stdout, viaFlag.stdout);
  assert.match(viaFlag.stdout, /^Run a command in a new container\n/);
  assert.match(viaFlag.stdout, /--name value +Name the container/);
  assert.match(viaFlag.stdout, /\$ tsbox run --rm alpine/);
  assert.not.match(viaFlag.stdout, /#0/);
  const volume = await tsbox(['help', 'volume', 'ls']);
  assert.is(volume.code, 0, volume.stderr);
  assert.match(volume.stdout, /^List volumes\n/);
  const group = await tsbox(['volume', '--help']);
  assert.is(group.code, 0, group.stderr);
  assert.match(group.stdout, /^ {2}ls +List volumes$/m);
});

test('an option after the image is the container command\'s, not a request for help', async () => {
  // clipanion stops at the first positional of a proxy: `--help` goes to COMMAND; with no image there it
  // fails on the store, not by printing help
  const r = await tsbox(['run', '--pull', 'never', 'localhost/nosuch-image', 'sh', '--help'], { TSBOX_ROOT: '/nonexistent-tsbox-root' });
  assert.is.not(r.code, 0);
  assert.not.match(r.stdout, /Run a command in a new container/);
});

test('tsbox --version: podman\'s line first, then the helper\'s version and the host features; --verbose and tsbox version in full', async () => {
  for (const args of [['--version'], ['-v'], ['--log-level', 'error', '--version']]) {
    const r = await tsbox(args);
    assert.is(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, /^tsbox version \d+\.\d+\.\d+$/);
    assert.match(lines[1]!, /^helper version \d+\.\d+\.\d+$/);
    assert.match(lines[2]!, /^host: user namespaces (allowed|not allowed: .+); id mapping .+; overlay .+; network .+; cgroups v[12].*; seccomp .+$/);
    assert.is(lines.length, 4, r.stdout);
  }
  for (const args of [['--version', '--verbose'], ['version']]) {
    const r = await tsbox(args);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Version: +\d+\.\d+\.\d+$/m);
    assert.match(r.stdout, /^Helper Version: +\d+\.\d+\.\d+$/m);
    assert.match(r.stdout, /^User Namespaces: +/m);
    assert.match(r.stdout, /^Network: +/m);
  }
  const json = await tsbox(['version', '--format', 'json']);
  assert.is(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { Client: { Version: string; HelperVersion: string } };
  assert.match(parsed.Client.HelperVersion, /^\d+\.\d+\.\d+$/);
  const template = await tsbox(['version', '--format', '{{.Client.Version}}']);
  assert.match(template.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('a mistyped command: one line naming it and the nearest command, exit 125', async () => {
  const cases: Array<[string[], string]> = [
    [['rn', 'alpine'], 'Error: unrecognized command `tsbox rn` (did you mean `tsbox run`?)'],
    [['imgaes'], 'Error: unrecognized command `tsbox imgaes` (did you mean `tsbox images`?)'],
    [['volume', 'lss'], 'Error: unrecognized command `tsbox volume lss` (did you mean `tsbox volume ls`?)'],
    [['frobnicate'], 'Error: unrecognized command `tsbox frobnicate`'],
    [['help', 'rn'], 'Error: unrecognized command `tsbox rn` (did you mean `tsbox run`?)'],
  ];
  for (const [args, line] of cases) {
    const r = await tsbox(args);
    assert.is(r.code, 125, args.join(' '));
    assert.is(r.stdout, '');
    assert.is(r.stderr, `${line}\nTry 'tsbox --help' for more information\n`);
  }
  const missing = await tsbox([]);
  assert.is(missing.code, 125);
  assert.is(missing.stderr, "Error: missing command 'tsbox COMMAND'\nTry 'tsbox --help' for more information\n");
  const group = await tsbox(['volume']);
  assert.is(group.code, 125);
  assert.match(group.stderr, /^Error: missing command 'tsbox volume COMMAND': one of create, inspect, ls, prune, rm\n/);
});

test('a mistyped flag: one line naming it and the nearest flag of that command, exit 125', async () => {
  const cases: Array<[string[], string]> = [
    [['run', '--nmae', 'x', 'alpine'], "Error: unknown flag: --nmae (did you mean --name?)\nSee 'tsbox run --help'\n"],
    [['ps', '--al'], "Error: unknown flag: --al (did you mean --all?)\nSee 'tsbox ps --help'\n"],
    [['volume', 'ls', '--quite'], "Error: unknown flag: --quite (did you mean --quiet?)\nSee 'tsbox volume ls --help'\n"],
    [['rm', '--zzzzzz', 'x'], "Error: unknown flag: --zzzzzz\nSee 'tsbox rm --help'\n"],
    [['--log-levle', 'debug', 'ps'], "Error: unknown flag: --log-levle (did you mean --log-level?)\nTry 'tsbox --help' for more information\n"],
    [['run'], "Error: not enough positional arguments\nSee 'tsbox run --help'\n"],
  ];
  for (const [args, text] of cases) {
    const r = await tsbox(args);
    assert.is(r.code, 125, args.join(' '));
    assert.is(r.stdout, '');
    assert.is(r.stderr, text);
  }
  const level = await tsbox(['--log-level', 'loud', 'ps']);
  assert.is(level.code, 125);
  assert.match(level.stderr, /^Error: invalid log level "loud": use one of debug, info, warn, error\n/);
});

test('colour: only on a terminal, never with NO_COLOR set to something or --no-color', () => {
  const tty = { isTTY: true };
  const saved = globalOptions.noColor;
  try {
    globalOptions.noColor = false;
    const term = { TERM: 'xterm-256color' };
    assert.ok(colorEnabled(tty, term));
    assert.not.ok(colorEnabled({ isTTY: false }, term), 'a pipe');
    assert.not.ok(colorEnabled({}, term), 'a file');
    assert.not.ok(colorEnabled(tty, { ...term, NO_COLOR: '1' }));
    assert.ok(colorEnabled(tty, { ...term, NO_COLOR: '' }), 'NO_COLOR set to nothing does not count');
    assert.not.ok(colorEnabled(tty, { TERM: 'dumb' }));
    assert.not.ok(colorEnabled(tty, {}), 'no TERM: not a terminal we know');
    globalOptions.noColor = true;
    assert.not.ok(colorEnabled(tty, term), '--no-color');
  } finally {
    globalOptions.noColor = saved;
  }
});

test("help text: clipanion's #0 becomes value and the options stay aligned", () => {
  const text = tidyUsage('  --rm            Remove\n  --name #0       Name it\n  -e,--env #0     Set\n$ tsbox run [--name #0]');
  assert.is(text, '  --rm            Remove\n  --name value    Name it\n  -e,--env value  Set\n$ tsbox run [--name value]');
});

test.run();

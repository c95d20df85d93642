import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createReporter, formatBinarySize } from '../../../cli/reporter.js';
import { humanSize, humanDuration, renderTable, formatTemplate } from '../../../cli/format.js';
import { globalOptions } from '../../../cli/global-options.js';

// the fake terminals below compare plain text; colour has its own test (test/cli/help.test.ts)
globalOptions.noColor = true;

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, chunks, write: (s: string) => (chunks.push(s), true), text: () => chunks.join('') } as unknown as NodeJS.WritableStream & {
    isTTY: boolean;
    chunks: string[];
    text(): string;
  };
}

test('without a terminal, one line per layer when it finishes', () => {
  const out = sink(false);
  const r = createReporter({ stderr: out });
  r.start('2c6d21737d83', 'blob', 1000);
  r.progress('2c6d21737d83', 500);
  r.start('aaaaaaaaaaaa', 'blob', 10);
  r.finish('aaaaaaaaaaaa', 'Already exists');
  r.finish('2c6d21737d83', 'Download complete');
  r.info('Writing manifest to image destination');
  r.close();
  assert.is(
    out.text(),
    'Copying blob aaaaaaaaaaaa skipped: already exists\nCopying blob 2c6d21737d83 done\nWriting manifest to image destination\n',
  );
});

test('on a narrow terminal the live lines are cut to its width, so that redrawing never repeats them', () => {
  const out = Object.assign(sink(true), { columns: 40 });
  let clock = 0;
  const r = createReporter({ stderr: out, now: () => clock });
  r.start('2c6d21737d83', 'blob', 100_000_000);
  r.start('aaaaaaaaaaaa', 'blob', 100_000_000);
  for (let i = 1; i <= 5; i++) {
    clock += 1000;
    r.progress('2c6d21737d83', i * 1_000_000);
    r.progress('aaaaaaaaaaaa', i * 2_000_000);
  }
  r.close();
  const lines = out.text().replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').split(/[\r\n]/).filter(Boolean);
  assert.ok(lines.length > 2, 'redrawn');
  for (const line of lines) assert.ok(line.length < 40, `${JSON.stringify(line)} is ${line.length} wide`);
  assert.ok(lines.some((l) => l.startsWith('Copying blob 2c6d21737d83')), 'short ids are kept whole');
});

test('quiet prints warnings only', () => {
  const out = sink(true);
  const r = createReporter({ stderr: out, quiet: true });
  r.start('x', 'blob', 1);
  r.finish('x', 'done');
  r.info('hello');
  r.warn('careful');
  assert.match(out.text(), /^WARN\[\d{4}\] careful\n$/);
});

test('on a terminal, lines are redrawn in place and progress is throttled', () => {
  const out = sink(true);
  let now = 0;
  const r = createReporter({ stderr: out, now: () => now });
  r.start('2c6d21737d83', 'blob', 40 * 1024 * 1024);
  const afterStart = out.chunks.length;
  now = 1000;
  r.progress('2c6d21737d83', 12 * 1024 * 1024);
  for (let i = 0; i < 50; i++) r.progress('2c6d21737d83', 12 * 1024 * 1024 + i);
  assert.is(out.chunks.length, afterStart + 1, 'one redraw for a burst of progress');
  assert.match(out.chunks.at(-1)!, /\x1b\[1A\r\x1b\[2KCopying blob 2c6d21737d83 \[=*>\s*\] 12\.0MiB \/ 40\.0MiB 12\.0MiB\/s\n/);
  r.finish('2c6d21737d83', 'done');
  r.close();
  assert.match(out.chunks.at(-1)!, /Copying blob 2c6d21737d83 \[=+\] 40\.0MiB \/ 40\.0MiB done\n$/);
});

test('sizes, durations and tables are printed in podman units and layout', () => {
  assert.is(humanSize(7_803_000), '7.8 MB');
  assert.is(humanSize(5_874_688), '5.87 MB');
  assert.is(humanSize(512), '512 B');
  assert.is(formatBinarySize(12.3 * 1024 * 1024), '12.3MiB');
  assert.is(humanDuration(2 * 3600_000), '2 hours');
  assert.is(humanDuration(90_000), 'About a minute');
  assert.is(humanDuration(20 * 86400_000), '2 weeks');
  assert.is(renderTable([['A', 'BB'], ['long-long-long-value', 'x']]), 'A                     BB\nlong-long-long-value  x\n');
  assert.is(formatTemplate('{{.A}}-{{json .B}} {{.B}}', [{ A: 1, B: ['x', 'y'] }]), '1-["x","y"] [x y]\n');
});

test.run();

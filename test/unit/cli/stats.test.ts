// podman's stats output: the table, --format json and templates, sizes and percents.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as format from '../../../cli/format.js';
import { renderStats, percent, type Tools } from '../../../cli/commands/stats.js';
import { goDuration } from '../../../core/container/top.js';
import type { ContainerStats } from '../../../core/container/stats.js';

const tools: Tools = { format, goDuration };
const ID = 'a9f807ffaacd0123456789abcdef0123456789abcdef0123456789abcdef0123';

const busy: ContainerStats = {
  id: ID,
  name: 'web',
  cpuPercent: 99.5,
  avgCpuPercent: 12.3456,
  cpuSeconds: 21.97,
  memUsage: 3_092_000,
  memLimit: 16_700_000_000,
  memPercent: 0.0185,
  netInput: 1858,
  netOutput: 0,
  pids: 2,
};

test('go-units sizes: four significant digits, no space; binary for BytesSize', () => {
  assert.is(format.unitsHumanSize(0), '0B');
  assert.is(format.unitsHumanSize(512), '512B');
  assert.is(format.unitsHumanSize(1000), '1kB');
  assert.is(format.unitsHumanSize(3_092_000), '3.092MB');
  assert.is(format.unitsHumanSize(16_700_000_000), '16.7GB');
  assert.is(format.unitsHumanSize(1_234_567), '1.235MB');
  assert.is(format.unitsBytesSize(1024 * 1024 * 1.5), '1.5MiB');
  assert.is(percent(0), '0.00%');
  assert.is(percent(12.3456), '12.35%');
});

test('the default table: podman columns, -- / -- for unreadable block IO', () => {
  const out = renderStats([busy], undefined, false, tools);
  const [header, row, more] = out.split('\n');
  assert.is(header, 'ID            NAME        CPU %       MEM USAGE / LIMIT  MEM %       NET IO        BLOCK IO    PIDS        CPU TIME    AVG CPU %');
  assert.is(row, 'a9f807ffaacd  web         99.50%      3.092MB / 16.7GB   0.02%       1.858kB / 0B  -- / --     2           21.97s      12.35%');
  assert.is(more, '');
  // no containers: the header only (columns as narrow as tabwriter's minimum)
  const empty = 'ID          NAME        CPU %       MEM USAGE / LIMIT  MEM %       NET IO      BLOCK IO    PIDS        CPU TIME    AVG CPU %\n';
  assert.is(renderStats([], undefined, false, tools), empty);
  assert.is(renderStats([], 'table', false, tools), empty);
});

test('--format json: podman field names, one-space indent, [] when empty', () => {
  const out = renderStats([{ ...busy, blockInput: 4096, blockOutput: 0 }], 'json', false, tools);
  assert.ok(out.startsWith('[\n {\n  "id": "a9f807ffaacd",\n'), out);
  assert.equal(JSON.parse(out), [
    {
      id: 'a9f807ffaacd',
      name: 'web',
      cpu_time: '21.97s',
      cpu_percent: '99.50%',
      avg_cpu: '12.35%',
      mem_usage: '3.092MB / 16.7GB',
      mem_percent: '0.02%',
      net_io: '1.858kB / 0B',
      block_io: '4.096kB / 0B',
      pids: '2',
    },
  ]);
  assert.is(renderStats([], 'json', false, tools), '[]\n');
});

test('templates: podman field names, table headers, --no-trunc ids, unknown fields refused', () => {
  assert.is(renderStats([busy], '{{.Name}} {{.CPUPerc}} {{.PIDs}} {{.MemPerc}}', false, tools), 'web 99.50% 2 0.02%\n');
  assert.is(renderStats([busy], '{{.ID}}', true, tools), `${ID}\n`);
  assert.is(
    renderStats([busy], 'table {{.ID}}\t{{.Name}}\t{{.MemUsage}}', false, tools),
    'ID            NAME        MEM USAGE / LIMIT\na9f807ffaacd  web         3.092MB / 16.7GB\n',
  );
  assert.throws(() => renderStats([busy], '{{.Nope}}', false, tools), /can't evaluate field Nope/);
});

test.run();

// Runs test files one process each (isolation, and a bound on every file's
// time), reads uvu's summary from each, and appends the counts of the tier
// to a results file that scripts/test.sh totals into `N passed, N failed`.
//
//   node dist/test/run.js --tier NAME --results FILE DIR...
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const FILE_TIMEOUT_MS = Number(process.env.TSBOX_TEST_FILE_TIMEOUT_MS || 15 * 60_000);

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
}

function findTestFiles(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTestFiles(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

async function runFile(file: string, filter: RegExp | undefined): Promise<FileResult> {
  const rel = relative(process.cwd(), file);
  if (filter && !filter.test(rel)) return { file: rel, passed: 0, failed: 0, skipped: 0 };
  const started = Date.now();
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    process.stdout.write(text);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, FILE_TIMEOUT_MS);
  const code: number | null = await new Promise((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  const text = stripAnsi(output);
  const total = /Total:\s+(\d+)/.exec(text);
  const passed = /Passed:\s+(\d+)/.exec(text);
  const skipped = /Skipped:\s+(\d+)/.exec(text);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (!total || !passed || timedOut) {
    const why = timedOut ? `timed out after ${FILE_TIMEOUT_MS / 1000}s` : `exited with ${code} before uvu's summary`;
    process.stdout.write(`FAIL ${rel}: ${why}\n`);
    return { file: rel, passed: passed ? Number(passed[1]) : 0, failed: 1, skipped: 0 };
  }
  const result = {
    file: rel,
    passed: Number(passed[1]),
    // uvu's Total counts the tests that ran; skipped ones are counted apart.
    failed: Number(total[1]) - Number(passed[1]),
    skipped: Number(skipped?.[1] ?? 0),
  };
  if (code !== 0 && result.failed === 0) result.failed = 1;
  process.stdout.write(`${result.failed ? 'FAIL' : 'ok  '} ${rel}: ${result.passed} passed, ${result.failed} failed (${seconds}s)\n`);
  return result;
}

async function main() {
  const args = process.argv.slice(2);
  let tier = 'tests';
  let results: string | undefined;
  const dirs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--tier') tier = args[++i]!;
    else if (args[i] === '--results') results = args[++i];
    else dirs.push(args[i]!);
  }
  const filter = process.env.TSBOX_TEST_FILTER ? new RegExp(process.env.TSBOX_TEST_FILTER) : undefined;
  const files = dirs.flatMap(findTestFiles);
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  process.stdout.write(`== tier ${tier}: ${files.length} test files\n`);
  for (const file of files) {
    const r = await runFile(file, filter);
    passed += r.passed;
    failed += r.failed;
    skipped += r.skipped;
  }
  process.stdout.write(`== tier ${tier}: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  if (results) appendFileSync(results, `${tier} ${passed} ${failed} ${skipped}\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main();

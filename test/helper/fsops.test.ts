// Drives `tsbox-helper fsops ROOT` directly and checks the results from the
// outside with stat and getfattr (the attr package), including attempts to
// escape ROOT through .., absolute paths and symlinks.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HELPER_BIN, runProgram } from '../lib/tsbox.js';
import { findProgram } from '../../core/userns/mapping.js';

/** NUL-separated operations, as the helper reads them. */
function ops(...fields: string[]): Buffer {
  return Buffer.from(fields.map((f) => `${f}\0`).join(''));
}

// Both ways of resolving a path: openat2 (the kernel's RESOLVE_IN_ROOT) and
// the component walk used where openat2 is missing.
for (const resolver of ['openat2', 'component walk'] as const) {
  const test = suite<{ dir: string; root: string; outside: string }>(`fsops (${resolver})`, { dir: '', root: '', outside: '' });
  const env = resolver === 'openat2' ? process.env : { ...process.env, TSBOX_HELPER_NO_OPENAT2: '1' };

  const fsops = (root: string, input: Buffer) => runProgram(HELPER_BIN, ['fsops', root], { input, env, timeoutMs: 10_000 });

  /** The xattr's value as hex, read by getfattr. */
  const getfattr = async (path: string, name: string) => {
    const tool = findProgram('getfattr');
    assert.ok(tool, 'getfattr is installed (Debian package attr)');
    const r = await runProgram(tool, ['--absolute-names', '-e', 'hex', '-n', name, path], { timeoutMs: 10_000 });
    assert.is(r.code, 0, r.stderr);
    const value = /=0x([0-9a-f]*)$/m.exec(r.stdout);
    assert.ok(value, `getfattr printed a hex value: ${r.stdout}`);
    return value[1]!;
  };

  test.before.each((ctx) => {
    ctx.dir = mkdtempSync(join(tmpdir(), 'tsbox-fsops-'));
    ctx.root = join(ctx.dir, 'root');
    ctx.outside = join(ctx.dir, 'outside');
    mkdirSync(join(ctx.root, 'etc'), { recursive: true });
    mkdirSync(ctx.outside);
    symlinkSync(ctx.outside, join(ctx.root, 'escape'));
  });

  test.after.each((ctx) => {
    rmSync(ctx.dir, { recursive: true, force: true });
  });

  test('creates a whiteout that is a char device 0:0 with mode 0000, printing nothing', async ({ root }) => {
    const r = await fsops(root, ops('whiteout', 'etc/gone'));
    assert.equal([r.code, r.stdout, r.stderr], [0, '', '']);
    const st = lstatSync(join(root, 'etc', 'gone'));
    assert.ok(st.isCharacterDevice());
    assert.is(st.rdev, 0);
    assert.is(st.mode & 0o7777, 0);
  });

  test('marks a directory opaque with user.overlay.opaque=y', async ({ root }) => {
    const r = await fsops(root, ops('opaque', 'etc'));
    assert.is(r.code, 0, r.stderr);
    assert.is(await getfattr(join(root, 'etc'), 'user.overlay.opaque'), '79'); // 'y'
  });

  test('sets an xattr from its hex value on a file', async ({ root }) => {
    writeFileSync(join(root, 'etc', 'file'), 'x');
    const r = await fsops(root, ops('xattr', 'etc/file', 'user.note', '68690a00ff'));
    assert.is(r.code, 0, r.stderr);
    assert.is(await getfattr(join(root, 'etc', 'file'), 'user.note'), '68690a00ff');
  });

  test('creates a fifo with exactly the mode given, whatever the umask', async ({ root }) => {
    const saved = process.umask(0o077);
    try {
      const r = await fsops(root, ops('fifo', 'etc/pipe', '664'));
      assert.is(r.code, 0, r.stderr);
    } finally {
      process.umask(saved);
    }
    const st = lstatSync(join(root, 'etc', 'pipe'));
    assert.ok(st.isFIFO());
    assert.is(st.mode & 0o7777, 0o664);
  });

  test('does several operations in order', async ({ root }) => {
    const r = await fsops(root, ops('whiteout', 'a', 'fifo', 'etc/p', '600', 'opaque', 'etc'));
    assert.is(r.code, 0, r.stderr);
    assert.ok(lstatSync(join(root, 'a')).isCharacterDevice());
    assert.ok(lstatSync(join(root, 'etc', 'p')).isFIFO());
  });

  test('refuses a path with .. components', async ({ root, dir }) => {
    const r = await fsops(root, ops('whiteout', '../x'));
    assert.is(r.code, 1);
    assert.is(r.stderr, 'tsbox-helper: fsops: whiteout ../x: paths may not contain ..\n');
    assert.equal(readdirSync(dir).sort(), ['outside', 'root']);
  });

  test('refuses an absolute path', async ({ root }) => {
    const r = await fsops(root, ops('whiteout', '/abs'));
    assert.is(r.code, 1);
    assert.is(r.stderr, 'tsbox-helper: fsops: whiteout /abs: paths must be relative to the root\n');
  });

  test('creates nothing outside the root through a symlinked directory', async ({ root, outside }) => {
    for (const [op, ...args] of [['whiteout', 'escape/x'], ['fifo', 'escape/y', '644'], ['whiteout', 'escape/etc/z']]) {
      const r = await fsops(root, ops(op!, ...args));
      assert.is(r.code, 1, `${op} ${args[0]} must fail`);
      assert.match(r.stderr, new RegExp(`^tsbox-helper: fsops: ${op} ${args[0]}: .+\\n$`));
    }
    assert.equal(readdirSync(outside), []);
  });

  test('does not set an xattr through a symlink, and says so', async ({ root, outside }) => {
    const r = await fsops(root, ops('xattr', 'escape', 'user.x', '01'));
    assert.is(r.code, 1);
    assert.match(r.stderr, /^tsbox-helper: fsops: xattr escape user\.x: is a symbolic link/);
    const check = await runProgram(findProgram('getfattr')!, ['-d', outside], { timeoutMs: 10_000 });
    assert.not.match(check.stdout, /user\.x/);
  });

  // root may set trusted.*: the refusal is what an unprivileged user meets
  const asUser = process.getuid!() === 0 ? test.skip : test;
  if (process.getuid!() === 0) console.log('SKIP xattr refusal: running as root, which may set trusted.* xattrs');
  asUser('reports an xattr the kernel does not permit with the name and strerror', async ({ root }) => {
    writeFileSync(join(root, 'etc', 'file'), 'x');
    const r = await fsops(root, ops('xattr', 'etc/file', 'trusted.overlay.opaque', '79'));
    assert.is(r.code, 1);
    assert.is(r.stderr, 'tsbox-helper: fsops: xattr etc/file trusted.overlay.opaque: Operation not permitted\n');
  });

  test('stops at the first failure and does not do the operations after it', async ({ root }) => {
    const r = await fsops(root, ops('whiteout', 'etc/first', 'whiteout', 'missing/dir/x', 'whiteout', 'etc/after'));
    assert.is(r.code, 1);
    assert.is(r.stderr, 'tsbox-helper: fsops: whiteout missing/dir/x: No such file or directory\n');
    assert.ok(lstatSync(join(root, 'etc', 'first')).isCharacterDevice());
    assert.throws(() => lstatSync(join(root, 'etc', 'after')));
  });

  test('refuses an existing file rather than replacing it', async ({ root }) => {
    writeFileSync(join(root, 'etc', 'kept'), 'data');
    const r = await fsops(root, ops('whiteout', 'etc/kept'));
    assert.is(r.code, 1);
    assert.is(r.stderr, 'tsbox-helper: fsops: whiteout etc/kept: File exists\n');
    assert.ok(lstatSync(join(root, 'etc', 'kept')).isFile());
  });

  test('rejects an unknown operation, a bad mode and a truncated list', async ({ root }) => {
    const unknown = await fsops(root, ops('chmod', 'etc'));
    assert.is(unknown.stderr, 'tsbox-helper: fsops: chmod: unknown operation\n');
    const mode = await fsops(root, ops('fifo', 'etc/p', '999'));
    assert.is(mode.stderr, 'tsbox-helper: fsops: fifo etc/p: the mode must be octal, at most 7777\n');
    const truncated = await fsops(root, Buffer.from('whiteout\0etc/x'));
    assert.is(truncated.stderr, 'tsbox-helper: fsops: whiteout: missing arguments\n');
    for (const r of [unknown, mode, truncated]) assert.is(r.code, 1);
  });

  test.run();
}

// The two resolvers differ on a symlink that stays inside the root: openat2
// follows it within the root, the walk refuses every symlink.
const inRoot = suite('fsops symlinks inside the root');
inRoot('follows an in-root symlink with openat2 and refuses it in the fallback walk', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-fsops-'));
  try {
    mkdirSync(join(dir, 'etc'));
    symlinkSync('etc', join(dir, 'link'));
    const viaOpenat2 = await runProgram(HELPER_BIN, ['fsops', dir], { input: ops('whiteout', 'link/w'), timeoutMs: 10_000 });
    assert.is(viaOpenat2.code, 0, viaOpenat2.stderr);
    assert.ok(lstatSync(join(dir, 'etc', 'w')).isCharacterDevice());
    const viaWalk = await runProgram(HELPER_BIN, ['fsops', dir], {
      input: ops('whiteout', 'link/v'),
      env: { ...process.env, TSBOX_HELPER_NO_OPENAT2: '1' },
      timeoutMs: 10_000,
    });
    assert.is(viaWalk.code, 1);
    assert.is(viaWalk.stderr, 'tsbox-helper: fsops: whiteout link/v: Too many levels of symbolic links\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
inRoot.run();

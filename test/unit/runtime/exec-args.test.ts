// execHelperArgs / execEnvironment: a container's record and the exec flags
// lowered to `tsbox-helper exec` options (podman's defaults and precedence).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildSpec } from '../../../core/runtime/spec.js';
import { execEnvironment, execHelperArgs, type ExecRequest } from '../../../core/runtime/exec.js';

const ID = 'f'.repeat(64);
const L0 = `sha256:${'a'.repeat(64)}`;
const image = { rootfs: { type: 'layers', diff_ids: [L0] }, config: { Env: ['A=image', 'PATH=/bin'], User: 'app', WorkingDir: '/srv' } };
const spec = buildSpec(image, { id: ID, command: ['sleep', '60'], layers: [L0], env: ['B=run'], capabilities: ['CAP_CHOWN', 'CAP_KILL'], noNewPrivileges: true });

function request(overrides: Partial<ExecRequest> = {}): ExecRequest {
  return { command: ['sh', '-c', 'id'], interactive: false, tty: false, detach: false, env: [], envFiles: [], callerEnv: {}, privileged: false, ...overrides };
}

function valueOf(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 && i < args.indexOf('--') ? args[i + 1] : undefined;
}

test('the container\'s user, directory, capabilities and no_new_privs by default; the command after --', () => {
  const args = execHelperArgs(spec, 4242, request(), { statusFd: 4 });
  assert.is(valueOf(args, '--target'), '4242');
  assert.is(valueOf(args, '--user'), 'app');
  assert.is(valueOf(args, '--chdir'), '/srv');
  assert.is(valueOf(args, '--cap'), 'CAP_CHOWN,CAP_KILL');
  assert.ok(args.includes('--no-new-privs'));
  assert.ok(args.includes('--clearenv'));
  assert.not.ok(args.includes('--tty'));
  assert.not.ok(args.includes('--seccomp'));
  assert.is(valueOf(args, '--status-fd'), '4');
  assert.equal(args.slice(args.indexOf('--') + 1), ['sh', '-c', 'id']);
});

test('-u, -w, -t, --privileged and a seccomp fd', () => {
  const args = execHelperArgs(spec, 1, request({ user: '0', workdir: '/tmp', tty: true, privileged: true }), { statusFd: 4, seccompFd: 5 });
  assert.is(valueOf(args, '--user'), '0');
  assert.is(valueOf(args, '--chdir'), '/tmp');
  assert.ok(args.includes('--tty'));
  assert.is(valueOf(args, '--cap'), undefined, 'every capability');
  assert.is(valueOf(args, '--seccomp'), '5', 'the container\'s filter stays, as podman\'s');
  assert.throws(() => execHelperArgs(spec, 1, request({ workdir: 'relative' }), { statusFd: 4 }), /must be an absolute path/);
  assert.throws(() => execHelperArgs(spec, 1, request({ command: [] }), { statusFd: 4 }), /non-empty command/);
});

test('environment: the container\'s, TERM with -t, then --env-file, then -e (later wins, first position kept)', () => {
  const env = execEnvironment(spec, { tty: true, envFiles: ['A=file\nC=file\n'], env: ['C=flag', 'D', 'E'], callerEnv: { D: 'caller' } });
  assert.equal(env.filter((e) => /^(A|B|C|D|E|TERM)=/.test(e)), ['TERM=xterm', 'A=file', 'B=run', 'C=flag', 'D=caller']);
  assert.ok(env.includes('PATH=/bin'));
  const plain = execEnvironment(spec, { tty: false, envFiles: [], env: [], callerEnv: {} });
  assert.equal(plain, spec.process.env);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AUDIT_ARCH_AARCH64,
  AUDIT_ARCH_X86_64,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_TRAP,
  compileSeccomp,
  defaultSeccompProfile,
  nativeSeccompArch,
  type SeccompArch,
  type SeccompOperator,
  type SeccompProfile,
  type SeccompSyscallRule,
} from '../../../core/security/seccomp.js';
import { DEFAULT_CAPABILITIES } from '../../../core/security/capabilities.js';
import { SYSCALLS_X86_64 } from '../../../core/security/syscalls-x86_64.js';
import { SYSCALLS_AARCH64 } from '../../../core/security/syscalls-aarch64.js';
import { decodeProgram, runSeccompProgram } from '../../lib/bpf.js';
import { TsboxError } from '../../../core/errors.js';

const ALLOW = SECCOMP_RET_ALLOW;
const errno = (n: number) => (SECCOMP_RET_ERRNO | n) >>> 0;
const EPERM = errno(1);
const EINVAL = errno(22);
const ENOSYS = errno(38);

const AUDIT = { x86_64: AUDIT_ARCH_X86_64, aarch64: AUDIT_ARCH_AARCH64 } as const;
const TABLES = { x86_64: SYSCALLS_X86_64, aarch64: SYSCALLS_AARCH64 } as const;

const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNS = 0x00020000;
const SIGCHLD = 17;

/** A compiled program and a way to ask it about one system call by name. */
function filter(profile: SeccompProfile, arch: SeccompArch = 'x86_64', capabilities: readonly string[] = DEFAULT_CAPABILITIES, kernel = '6.1.0') {
  const program = compileSeccomp(profile, { arch, capabilities, kernel });
  return {
    program,
    verdict(name: string, args: Array<bigint | number> = []): number {
      const nr = TABLES[arch][name];
      if (nr === undefined) throw new Error(`no system call ${name} on ${arch}`);
      return runSeccompProgram(program, { nr, arch: AUDIT[arch], args }).verdict;
    },
  };
}

const hex = (v: number) => `0x${v.toString(16)}`;

for (const arch of ['x86_64', 'aarch64'] as const) {
  test(`${arch}: the default profile allows ordinary system calls`, () => {
    const f = filter(defaultSeccompProfile(), arch);
    for (const name of ['read', 'write', 'openat', 'execve', 'exit_group', 'mmap', 'futex', 'newfstatat']) {
      assert.is(hex(f.verdict(name)), hex(ALLOW), name);
    }
    assert.is(hex(f.verdict('clone', [SIGCHLD])), hex(ALLOW), 'clone for fork');
  });

  test(`${arch}: the default profile refuses kexec_load, swapon and userfaultfd with EPERM`, () => {
    const f = filter(defaultSeccompProfile(), arch);
    for (const name of ['kexec_load', 'swapon', 'userfaultfd', 'init_module', 'acct', 'settimeofday']) {
      assert.is(hex(f.verdict(name)), hex(EPERM), name);
    }
  });

  test(`${arch}: the default profile answers ENOSYS for calls it does not list, like add_key`, () => {
    const f = filter(defaultSeccompProfile(), arch);
    for (const name of ['add_key', 'request_key', 'io_uring_setup', 'fsopen_not_a_call'].filter((n) => n in TABLES[arch])) {
      assert.is(hex(f.verdict(name)), hex(ENOSYS), name);
    }
    assert.is(hex(runSeccompProgram(f.program, { nr: 4000, arch: AUDIT[arch] }).verdict), hex(ENOSYS), 'an unassigned number');
  });

  test(`${arch}: mount, unshare, keyctl, setns and namespace clones need CAP_SYS_ADMIN; clone3 falls back to clone without it`, () => {
    const f = filter(defaultSeccompProfile(), arch);
    const admin = filter(defaultSeccompProfile(), arch, [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']);
    for (const name of ['mount', 'umount2', 'unshare', 'keyctl', 'pivot_root', 'setns', 'fsopen', 'open_tree']) {
      assert.is(hex(f.verdict(name)), hex(EPERM), `${name} without CAP_SYS_ADMIN`);
      assert.is(hex(admin.verdict(name)), hex(ALLOW), `${name} with CAP_SYS_ADMIN`);
    }
    assert.is(hex(f.verdict('clone', [CLONE_NEWUSER | SIGCHLD])), hex(EPERM), 'clone(CLONE_NEWUSER)');
    assert.is(hex(f.verdict('clone', [CLONE_NEWNS])), hex(EPERM), 'clone(CLONE_NEWNS)');
    assert.is(hex(f.verdict('clone3')), hex(ENOSYS), 'clone3 without CAP_SYS_ADMIN');
    assert.is(hex(admin.verdict('clone', [CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD])), hex(ALLOW));
    assert.is(hex(admin.verdict('clone3')), hex(ALLOW));
  });

  test(`${arch}: capability-gated calls are allowed only with their capability`, () => {
    const plain = filter(defaultSeccompProfile(), arch);
    const admin = filter(defaultSeccompProfile(), arch, [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN', 'CAP_SYS_TIME', 'CAP_SYS_MODULE']);
    for (const name of ['sethostname', 'setdomainname', 'quotactl', 'bpf']) {
      assert.is(hex(plain.verdict(name)), hex(EPERM), `${name} without CAP_SYS_ADMIN`);
      assert.is(hex(admin.verdict(name)), hex(ALLOW), `${name} with CAP_SYS_ADMIN`);
    }
    assert.is(hex(admin.verdict('settimeofday')), hex(ALLOW));
    assert.is(hex(admin.verdict('init_module')), hex(ALLOW));
    const noChroot = filter(defaultSeccompProfile(), arch, DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_SYS_CHROOT'));
    assert.is(hex(plain.verdict('chroot')), hex(ALLOW), 'chroot with the default CAP_SYS_CHROOT');
    assert.is(hex(noChroot.verdict('chroot')), hex(EPERM), 'chroot without CAP_SYS_CHROOT');
  });

  test(`${arch}: personality is allowed only for the listed personas`, () => {
    const f = filter(defaultSeccompProfile(), arch);
    for (const persona of [0, 8, 0x20000, 0x20008, 0xffffffff]) {
      assert.is(hex(f.verdict('personality', [persona])), hex(ALLOW), hex(persona));
    }
    for (const persona of [0x0040000, 0x0400000, 1, 0x1_00000000]) {
      assert.is(hex(f.verdict('personality', [persona])), hex(ENOSYS), hex(persona));
    }
  });

  test(`${arch}: audit netlink sockets are refused with EINVAL unless CAP_AUDIT_WRITE is kept`, () => {
    const AF_INET = 2, AF_NETLINK = 16, NETLINK_ROUTE = 0, NETLINK_AUDIT = 9, SOCK_STREAM = 1;
    const f = filter(defaultSeccompProfile(), arch);
    assert.is(hex(f.verdict('socket', [AF_NETLINK, 3, NETLINK_AUDIT])), hex(EINVAL));
    assert.is(hex(f.verdict('socket', [AF_NETLINK, 3, NETLINK_ROUTE])), hex(ALLOW));
    assert.is(hex(f.verdict('socket', [AF_INET, SOCK_STREAM, NETLINK_AUDIT])), hex(ALLOW), 'protocol 9 of another family');
    const audit = filter(defaultSeccompProfile(), arch, [...DEFAULT_CAPABILITIES, 'CAP_AUDIT_WRITE']);
    assert.is(hex(audit.verdict('socket', [AF_NETLINK, 3, NETLINK_AUDIT])), hex(ALLOW));
  });

  test(`${arch}: a system call from another architecture kills the process`, () => {
    const f = filter(defaultSeccompProfile(), arch);
    const other = arch === 'x86_64' ? AUDIT_ARCH_AARCH64 : AUDIT_ARCH_X86_64;
    const AUDIT_ARCH_I386 = 0x40000003;
    const AUDIT_ARCH_ARM = 0x40000028;
    for (const foreign of [other, AUDIT_ARCH_I386, AUDIT_ARCH_ARM]) {
      assert.is(hex(runSeccompProgram(f.program, { nr: 0, arch: foreign }).verdict), hex(SECCOMP_RET_KILL_PROCESS), hex(foreign));
    }
  });

  test(`${arch}: the program fits the kernel's limit and is whole sock_filter records when written to a file`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbox-seccomp-'));
    try {
      const file = join(dir, 'filter.bpf');
      writeFileSync(file, filter(defaultSeccompProfile(), arch).program);
      const written = readFileSync(file);
      assert.ok(written.length > 0);
      assert.is(written.length % 8, 0);
      assert.ok(written.length <= 4096 * 8, `${written.length} bytes`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('x86_64: x32 system calls are killed even when their number is allowed', () => {
  const f = filter(defaultSeccompProfile(), 'x86_64');
  const X32_READ = 0x40000000;
  assert.is(hex(runSeccompProgram(f.program, { nr: X32_READ, arch: AUDIT_ARCH_X86_64 }).verdict), hex(SECCOMP_RET_KILL_PROCESS));
  assert.is(hex(f.verdict('read')), hex(ALLOW));
});

test('architecture-specific entries apply only on their architecture', () => {
  assert.is(hex(filter(defaultSeccompProfile(), 'x86_64').verdict('arch_prctl')), hex(ALLOW));
  assert.is(hex(filter(defaultSeccompProfile(), 'x86_64').verdict('modify_ldt')), hex(ALLOW));
  const arm = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } }] } satisfies SeccompProfile;
  assert.is(hex(filter(arm, 'aarch64').verdict('read')), hex(EPERM));
  assert.is(hex(filter(arm, 'x86_64').verdict('read')), hex(ALLOW));
});

// ---- a docker-style clone restriction, through MASKED_EQ ----

const NAMESPACE_FLAGS = 0x7e020000; // CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
const cloneRestricted: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  syscalls: [
    { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }], excludes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['clone', 'unshare'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
  ],
};

test('a clone with CLONE_NEWUSER is denied without CAP_SYS_ADMIN by a docker-style rule', () => {
  const f = filter(cloneRestricted);
  assert.is(hex(f.verdict('clone', [SIGCHLD])), hex(ALLOW));
  assert.is(hex(f.verdict('clone', [CLONE_NEWUSER | SIGCHLD])), hex(EPERM));
  assert.is(hex(f.verdict('clone', [CLONE_NEWNS])), hex(EPERM));
  assert.is(hex(f.verdict('unshare', [CLONE_NEWUSER])), hex(EPERM));
  const admin = filter(cloneRestricted, 'x86_64', ['CAP_SYS_ADMIN']);
  assert.is(hex(admin.verdict('clone', [CLONE_NEWUSER | SIGCHLD])), hex(ALLOW));
  assert.is(hex(admin.verdict('unshare', [CLONE_NEWUSER])), hex(ALLOW));
});

// ---- argument comparisons, on both halves of 64-bit arguments ----

const H = 0x1_00000000; // 2^32: one in the high half
function opProfile(op: SeccompOperator, value: number, valueTwo = 0, index = 3): SeccompProfile {
  return { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index, value, valueTwo, op }] }] };
}

const V = 5 * H + 100; // high 5, low 100
const opCases: Array<[SeccompOperator, number, number, Array<[number, boolean]>]> = [
  ['SCMP_CMP_EQ', V, 0, [[V, true], [V + 1, false], [100, false], [V + H, false], [6 * H + 100, false]]],
  ['SCMP_CMP_NE', V, 0, [[V, false], [V - 1, true], [100, true], [4 * H + 100, true]]],
  ['SCMP_CMP_LT', V, 0, [[V - 1, true], [V, false], [V + 1, false], [4 * H + 0xffffffff, true], [6 * H, false], [0, true]]],
  ['SCMP_CMP_LE', V, 0, [[V - 1, true], [V, true], [V + 1, false], [4 * H + 0xffffffff, true], [6 * H, false]]],
  ['SCMP_CMP_GT', V, 0, [[V - 1, false], [V, false], [V + 1, true], [4 * H + 0xffffffff, false], [6 * H, true]]],
  ['SCMP_CMP_GE', V, 0, [[V - 1, false], [V, true], [V + 1, true], [4 * H + 0xffffffff, false], [6 * H, true]]],
  ['SCMP_CMP_MASKED_EQ', 3 * H + 0xf0, 1 * H + 0x30, [[1 * H + 0x30, true], [5 * H + 0x3f, true], [0x30, false], [1 * H + 0x10, false], [3 * H + 0x30, false]]],
];
for (const [op, value, valueTwo, cases] of opCases) {
  test(`${op} compares all 64 bits of an argument`, () => {
    const f = filter(opProfile(op, value, valueTwo));
    for (const [arg, holds] of cases) {
      assert.is(hex(f.verdict('ioctl', [0, 0, 0, arg])), hex(holds ? ALLOW : EPERM), `${op} ${hex(arg)} vs ${hex(value)}`);
    }
  });
}

test('arguments are read from their own slot: a condition on arg 3 ignores the others', () => {
  const f = filter(opProfile('SCMP_CMP_EQ', 7));
  assert.is(hex(f.verdict('ioctl', [7, 7, 7, 0, 7, 7])), hex(EPERM));
  assert.is(hex(f.verdict('ioctl', [0, 0, 0, 7])), hex(ALLOW));
});

test('all conditions of a rule must hold', () => {
  const profile: SeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [
      { index: 0, value: 1, op: 'SCMP_CMP_EQ' },
      { index: 5, value: 10, op: 'SCMP_CMP_GT' },
    ] }],
  };
  const f = filter(profile);
  assert.is(hex(f.verdict('ioctl', [1, 0, 0, 0, 0, 11])), hex(ALLOW));
  assert.is(hex(f.verdict('ioctl', [1, 0, 0, 0, 0, 10])), hex(EPERM));
  assert.is(hex(f.verdict('ioctl', [2, 0, 0, 0, 0, 11])), hex(EPERM));
});

// ---- rule order, actions, selectors ----

test('the first rule that holds decides, and an unconditional rule ends the list', () => {
  const profile: SeccompProfile = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] },
      { names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['ioctl'], action: 'SCMP_ACT_ALLOW' },
    ],
  };
  const f = filter(profile);
  assert.is(hex(f.verdict('ioctl', [1])), hex(EINVAL));
  assert.is(hex(f.verdict('ioctl', [2])), hex(errno(13)));
});

test('each action becomes its SECCOMP_RET value, ERRNO and TRACE defaulting to EPERM', () => {
  const profile: SeccompProfile = {
    defaultAction: 'SCMP_ACT_KILL_PROCESS',
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ERRNO' },
      { names: ['write'], action: 'SCMP_ACT_TRAP' },
      { names: ['close'], action: 'SCMP_ACT_LOG' },
      { names: ['openat'], action: 'SCMP_ACT_TRACE', errnoRet: 7 },
      { names: ['fstat'], action: 'SCMP_ACT_TRACE' },
      { names: ['mmap'], action: 'SCMP_ACT_KILL' },
      { names: ['brk'], action: 'SCMP_ACT_KILL_THREAD' },
    ],
  };
  const f = filter(profile);
  assert.is(hex(f.verdict('read')), hex(EPERM));
  assert.is(hex(f.verdict('write')), hex(SECCOMP_RET_TRAP));
  assert.is(hex(f.verdict('close')), hex(SECCOMP_RET_LOG));
  assert.is(hex(f.verdict('openat')), hex(SECCOMP_RET_TRACE | 7));
  assert.is(hex(f.verdict('fstat')), hex(SECCOMP_RET_TRACE | 1));
  assert.is(hex(f.verdict('mmap')), hex(SECCOMP_RET_KILL_THREAD));
  assert.is(hex(f.verdict('brk')), hex(SECCOMP_RET_KILL_THREAD));
  assert.is(hex(f.verdict('getpid')), hex(SECCOMP_RET_KILL_PROCESS));
});

test('includes.caps needs every listed capability; excludes.caps is ruled out by any one', () => {
  const profile: SeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_A', 'CAP_B'] } },
      { names: ['write'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_A', 'CAP_C'] } },
    ],
  };
  assert.is(hex(filter(profile, 'x86_64', ['CAP_A']).verdict('read')), hex(EPERM));
  assert.is(hex(filter(profile, 'x86_64', ['CAP_A', 'CAP_B']).verdict('read')), hex(ALLOW));
  assert.is(hex(filter(profile, 'x86_64', ['CAP_B']).verdict('write')), hex(ALLOW));
  assert.is(hex(filter(profile, 'x86_64', ['CAP_C']).verdict('write')), hex(EPERM));
});

test('includes.minKernel applies a rule only on a new enough kernel', () => {
  const profile: SeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.8' } }],
  };
  assert.is(hex(filter(profile, 'x86_64', [], '5.4.0-150-generic').verdict('read')), hex(EPERM));
  assert.is(hex(filter(profile, 'x86_64', [], '5.8.0').verdict('read')), hex(ALLOW));
  assert.is(hex(filter(profile, 'x86_64', [], '6.1.0').verdict('read')), hex(ALLOW));
});

test('names the architecture does not know are skipped, as libseccomp does', () => {
  const profile: SeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [{ names: ['no_such_call', 'open', 'read'], action: 'SCMP_ACT_ALLOW' }],
  };
  assert.is(hex(filter(profile, 'aarch64').verdict('read')), hex(ALLOW)); // aarch64 has no open
  assert.is(hex(filter(profile, 'x86_64').verdict('open')), hex(ALLOW));
});

// ---- program size: long jumps and the 4096 limit ----

test('a system call with more than 255 conditional rules still reaches each of them (long jumps)', () => {
  const rules: SeccompSyscallRule[] = [];
  for (let i = 0; i < 300; i++) {
    rules.push({ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 1000 + i, args: [{ index: 1, value: i, op: 'SCMP_CMP_EQ' }] });
  }
  // More system calls on both sides of ioctl, so the search tree must jump over the long block.
  rules.push({ names: Object.keys(SYSCALLS_X86_64).filter((n) => n !== 'ioctl').slice(0, 200), action: 'SCMP_ACT_ALLOW' });
  const f = filter({ defaultAction: 'SCMP_ACT_KILL_PROCESS', syscalls: rules });
  const insns = decodeProgram(f.program);
  assert.ok(insns.some((insn) => insn.code === 0x05 && insn.k > 255), 'a BPF_JA longer than 255');
  for (const i of [0, 1, 128, 255, 256, 299]) {
    assert.is(hex(f.verdict('ioctl', [0, i])), hex(errno(1000 + i)), `ioctl request ${i}`);
  }
  assert.is(hex(f.verdict('ioctl', [0, 300])), hex(SECCOMP_RET_KILL_PROCESS));
  assert.is(hex(f.verdict('read')), hex(ALLOW));
  assert.is(hex(f.verdict('getpid')), hex(ALLOW));
  assert.is(hex(f.verdict('pkey_free')), hex(SECCOMP_RET_KILL_PROCESS));
});

test('every system call in the tables gets the verdict the default profile plans for it', () => {
  // Against the profile read directly: allowed names allow, refused names EPERM, unlisted ENOSYS.
  const profile = defaultSeccompProfile();
  const f = filter(profile);
  const unconditional = new Map<string, string>();
  for (const rule of profile.syscalls) {
    if (rule.args?.length || rule.includes || rule.excludes) continue;
    for (const name of rule.names) if (!unconditional.has(name)) unconditional.set(name, rule.action);
  }
  const conditional = new Set(profile.syscalls.filter((r) => r.args?.length || r.includes || r.excludes).flatMap((r) => r.names));
  for (const name of Object.keys(SYSCALLS_X86_64)) {
    const action = unconditional.get(name);
    if (action === undefined && conditional.has(name)) continue;
    const expected = action === 'SCMP_ACT_ALLOW' ? ALLOW : action === 'SCMP_ACT_ERRNO' ? EPERM : ENOSYS;
    assert.is(hex(f.verdict(name)), hex(expected), name);
  }
});

test('a profile that compiles past 4096 instructions is refused', () => {
  const rules: SeccompSyscallRule[] = [];
  for (let i = 0; i < 1000; i++) {
    rules.push({ names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: i, op: 'SCMP_CMP_EQ' }] });
  }
  try {
    compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: rules }, { arch: 'x86_64', capabilities: [] });
    assert.unreachable('compiled');
  } catch (err) {
    assert.instance(err, TsboxError);
    assert.match((err as Error).message, /more than the kernel's limit of 4096/);
  }
});

test('the default profile costs few instructions per system call', () => {
  const f = filter(defaultSeccompProfile());
  const steps = runSeccompProgram(f.program, { nr: SYSCALLS_X86_64.read!, arch: AUDIT_ARCH_X86_64 }).steps;
  assert.ok(steps < 30, `${steps} steps for read`);
});

test('the native architecture maps from Node\'s names, and others are refused with a way out', () => {
  assert.is(nativeSeccompArch('x64'), 'x86_64');
  assert.is(nativeSeccompArch('arm64'), 'aarch64');
  try {
    nativeSeccompArch('ppc64');
    assert.unreachable('ppc64 accepted');
  } catch (err) {
    assert.instance(err, TsboxError);
    assert.is((err as TsboxError).userMessage(), 'seccomp filters are not supported on ppc64 (run with --security-opt seccomp=unconfined)');
  }
});

test.run();

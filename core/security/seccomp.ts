// Seccomp profiles in the docker/podman seccomp.json format, and a compiler
// from a profile to a classic BPF program (struct sock_filter[]) that the
// native helper loads with seccomp(SECCOMP_SET_MODE_FILTER) — no libseccomp.
//
// Semantics, for one system call on the native architecture:
// - the rules that apply (includes/excludes against the container's
//   capabilities, the architecture and the kernel version) are tried in
//   profile order; the first whose argument conditions all hold decides;
// - a rule without conditions always holds, so later rules for that system
//   call are dead (as with libseccomp, where the first catch-all rule stays);
// - no rule holds: the profile's default action.
// Names the kernel of the target architecture does not know are skipped, as
// libseccomp does. Other architectures (i386, arm, x32) are not filtered but
// killed: we have no tables for them, and letting them through would bypass
// the filter.

import { readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { TsboxError, describeSystemError } from '../errors.js';
import { SYSCALLS_AARCH64 } from './syscalls-aarch64.js';
import { SYSCALLS_X86_64 } from './syscalls-x86_64.js';
import { DEFAULT_PROFILE } from './default-profile.js';

export type SeccompActionName =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_ALLOW';

export type SeccompOperator =
  | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_NE'
  | 'SCMP_CMP_LT'
  | 'SCMP_CMP_LE'
  | 'SCMP_CMP_GT'
  | 'SCMP_CMP_GE'
  | 'SCMP_CMP_MASKED_EQ';

/** One condition on a system call argument; for MASKED_EQ, `(arg & value) == valueTwo`. */
export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}

export interface SeccompFilterSelector {
  /** Every capability listed must be kept (includes) / any one kept rules the entry out (excludes). */
  caps?: string[];
  /** Go architecture names as in the format: amd64, arm64, x32, x86, arm, … */
  arches?: string[];
  /** `5.8` or `5.8.0`: the running kernel must be at least this (includes only). */
  minKernel?: string;
}

export interface SeccompSyscallRule {
  names: string[];
  action: SeccompActionName;
  /** For ERRNO and TRACE; EPERM when absent, as podman. */
  errnoRet?: number;
  args?: SeccompArg[];
  includes?: SeccompFilterSelector;
  excludes?: SeccompFilterSelector;
  comment?: string;
}

export interface SeccompArchMapEntry {
  architecture: string;
  subArchitectures?: string[];
}

export interface SeccompProfile {
  defaultAction: SeccompActionName;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: SeccompArchMapEntry[];
  syscalls: SeccompSyscallRule[];
}

export type SeccompArch = 'x86_64' | 'aarch64';

export interface CompileOptions {
  arch: SeccompArch;
  /** The capabilities the container keeps (`CAP_*`), for includes/excludes. */
  capabilities: readonly string[];
  /** The kernel version minKernel is checked against; this machine's by default. */
  kernel?: string;
}

// Kernel ABI constants (include/uapi/linux/seccomp.h, audit.h, filter.h).
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;
/** On x86_64, x32 system calls are the x86_64 arch with this bit set in nr. */
export const X32_SYSCALL_BIT = 0x40000000;

/** The kernel refuses longer programs (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;
export const SOCK_FILTER_SIZE = 8;

const EPERM = 1;

const ACTIONS: Readonly<Record<SeccompActionName, number>> = {
  SCMP_ACT_KILL: SECCOMP_RET_KILL_THREAD,
  SCMP_ACT_KILL_THREAD: SECCOMP_RET_KILL_THREAD,
  SCMP_ACT_KILL_PROCESS: SECCOMP_RET_KILL_PROCESS,
  SCMP_ACT_TRAP: SECCOMP_RET_TRAP,
  SCMP_ACT_ERRNO: SECCOMP_RET_ERRNO,
  SCMP_ACT_TRACE: SECCOMP_RET_TRACE,
  SCMP_ACT_LOG: SECCOMP_RET_LOG,
  SCMP_ACT_ALLOW: SECCOMP_RET_ALLOW,
};

const OPERATORS: readonly SeccompOperator[] = [
  'SCMP_CMP_EQ',
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_GT',
  'SCMP_CMP_GE',
  'SCMP_CMP_MASKED_EQ',
];

const ARCHES: Readonly<Record<SeccompArch, { audit: number; goName: string; syscalls: Readonly<Record<string, number>> }>> = {
  x86_64: { audit: AUDIT_ARCH_X86_64, goName: 'amd64', syscalls: SYSCALLS_X86_64 },
  aarch64: { audit: AUDIT_ARCH_AARCH64, goName: 'arm64', syscalls: SYSCALLS_AARCH64 },
};

/** The seccomp architecture of this machine (Node's `process.arch`); others are refused. */
export function nativeSeccompArch(nodeArch: string = process.arch): SeccompArch {
  if (nodeArch === 'x64') return 'x86_64';
  if (nodeArch === 'arm64') return 'aarch64';
  throw new TsboxError(`seccomp filters are not supported on ${nodeArch}`, { hint: 'run with --security-opt seccomp=unconfined' });
}

/** containers-common's default profile (podman's), as data we can change. */
export function defaultSeccompProfile(): SeccompProfile {
  return structuredClone(DEFAULT_PROFILE);
}

/** Reads and checks a seccomp.json file (`--security-opt seccomp=PATH`). */
export async function loadSeccompProfile(path: string): Promise<SeccompProfile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TsboxError(`reading seccomp profile ${path}: ${describeSystemError(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TsboxError(`seccomp profile ${path} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseSeccompProfile(json);
  } catch (err) {
    if (err instanceof TsboxError) throw new TsboxError(`seccomp profile ${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Checks a parsed seccomp.json document and returns it in our model. */
export function parseSeccompProfile(json: unknown): SeccompProfile {
  if (!isObject(json)) throw new TsboxError('the profile must be a JSON object');
  const profile: SeccompProfile = {
    defaultAction: parseAction(json.defaultAction, 'defaultAction'),
    syscalls: [],
  };
  if (json.defaultErrnoRet !== undefined && json.defaultErrnoRet !== null) {
    profile.defaultErrnoRet = parseErrno(json.defaultErrnoRet, 'defaultErrnoRet');
  }
  if (json.architectures !== undefined && json.architectures !== null) {
    profile.architectures = parseStrings(json.architectures, 'architectures');
  }
  if (json.archMap !== undefined && json.archMap !== null) {
    if (!Array.isArray(json.archMap)) throw new TsboxError('archMap must be an array');
    profile.archMap = json.archMap.map((entry, i) => {
      if (!isObject(entry) || typeof entry.architecture !== 'string') {
        throw new TsboxError(`archMap[${i}] must have an architecture`);
      }
      const sub = entry.subArchitectures;
      return {
        architecture: entry.architecture,
        subArchitectures: sub === undefined || sub === null ? [] : parseStrings(sub, `archMap[${i}].subArchitectures`),
      };
    });
  }
  const syscalls = json.syscalls ?? [];
  if (!Array.isArray(syscalls)) throw new TsboxError('syscalls must be an array');
  profile.syscalls = syscalls.map((rule, i) => parseRule(rule, `syscalls[${i}]`));
  return profile;
}

function parseRule(json: unknown, where: string): SeccompSyscallRule {
  if (!isObject(json)) throw new TsboxError(`${where} must be an object`);
  // Older docker profiles name one system call in `name`.
  const names = json.names ?? (typeof json.name === 'string' ? [json.name] : undefined);
  if (names === undefined) throw new TsboxError(`${where} names no system call`);
  const rule: SeccompSyscallRule = {
    names: parseStrings(names, `${where}.names`),
    action: parseAction(json.action, `${where}.action`),
  };
  if (json.errnoRet !== undefined && json.errnoRet !== null) rule.errnoRet = parseErrno(json.errnoRet, `${where}.errnoRet`);
  if (json.args !== undefined && json.args !== null) {
    if (!Array.isArray(json.args)) throw new TsboxError(`${where}.args must be an array`);
    rule.args = json.args.map((arg, j) => parseArg(arg, `${where}.args[${j}]`));
  }
  if (json.includes !== undefined && json.includes !== null) rule.includes = parseSelector(json.includes, `${where}.includes`);
  if (json.excludes !== undefined && json.excludes !== null) rule.excludes = parseSelector(json.excludes, `${where}.excludes`);
  if (typeof json.comment === 'string' && json.comment !== '') rule.comment = json.comment;
  return rule;
}

function parseArg(json: unknown, where: string): SeccompArg {
  if (!isObject(json)) throw new TsboxError(`${where} must be an object`);
  const index = json.index;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 5) {
    throw new TsboxError(`${where}.index must be 0 to 5, not ${JSON.stringify(index)}`);
  }
  if (typeof json.op !== 'string' || !(OPERATORS as readonly string[]).includes(json.op)) {
    throw new TsboxError(`${where}: unknown operator ${JSON.stringify(json.op)}`);
  }
  return {
    index,
    value: parseArgValue(json.value, `${where}.value`),
    valueTwo: json.valueTwo === undefined || json.valueTwo === null ? 0 : parseArgValue(json.valueTwo, `${where}.valueTwo`),
    op: json.op as SeccompOperator,
  };
}

function parseSelector(json: unknown, where: string): SeccompFilterSelector {
  if (!isObject(json)) throw new TsboxError(`${where} must be an object`);
  const selector: SeccompFilterSelector = {};
  if (json.caps !== undefined && json.caps !== null) selector.caps = parseStrings(json.caps, `${where}.caps`);
  if (json.arches !== undefined && json.arches !== null) selector.arches = parseStrings(json.arches, `${where}.arches`);
  if (json.minKernel !== undefined && json.minKernel !== null && json.minKernel !== '') {
    if (typeof json.minKernel !== 'string' || parseKernelVersion(json.minKernel) === undefined) {
      throw new TsboxError(`${where}.minKernel must be a version like "5.8", not ${JSON.stringify(json.minKernel)}`);
    }
    selector.minKernel = json.minKernel;
  }
  return selector;
}

function parseAction(value: unknown, where: string): SeccompActionName {
  if (value === 'SCMP_ACT_NOTIFY') throw new TsboxError(`${where}: SCMP_ACT_NOTIFY is not supported`);
  if (typeof value !== 'string' || !(value in ACTIONS)) {
    throw new TsboxError(`${where}: unknown action ${JSON.stringify(value)}`);
  }
  return value as SeccompActionName;
}

function parseErrno(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > SECCOMP_RET_DATA) {
    throw new TsboxError(`${where} must be an errno number from 0 to ${SECCOMP_RET_DATA}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function parseArgValue(value: unknown, where: string): number {
  // JSON numbers past 2^53 lose bits silently: refuse them rather than compare the wrong value.
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TsboxError(`${where} must be a non-negative integer below 2^53, not ${JSON.stringify(value)}`);
  }
  return value;
}

function parseStrings(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new TsboxError(`${where} must be an array of strings`);
  }
  return [...value];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseKernelVersion(text: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

// ---- compiling ----------------------------------------------------------

/** The SECCOMP_RET_* value of an action; ERRNO and TRACE carry errno (EPERM when absent). */
export function actionValue(action: SeccompActionName, errno: number | undefined): number {
  const base = ACTIONS[action];
  if (action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE') return (base | ((errno ?? EPERM) & SECCOMP_RET_DATA)) >>> 0;
  return base;
}

/** Whether a rule's includes/excludes select it for this container. */
function ruleApplies(rule: SeccompSyscallRule, caps: ReadonlySet<string>, goArch: string, kernel: [number, number] | undefined): boolean {
  const inc = rule.includes;
  if (inc) {
    if (inc.caps && inc.caps.length > 0 && !inc.caps.every((c) => caps.has(c))) return false;
    if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(goArch)) return false;
    if (inc.minKernel) {
      const wanted = parseKernelVersion(inc.minKernel)!;
      if (!kernel || kernel[0] < wanted[0] || (kernel[0] === wanted[0] && kernel[1] < wanted[1])) return false;
    }
  }
  const exc = rule.excludes;
  if (exc) {
    if (exc.caps && exc.caps.some((c) => caps.has(c))) return false;
    if (exc.arches && exc.arches.includes(goArch)) return false;
  }
  return true;
}

/** What the filter does for one system call number: rules in order, then the default. */
interface SyscallPlan {
  nr: number;
  rules: Array<{ args: SeccompArg[]; ret: number }>;
}

function planSyscalls(profile: SeccompProfile, options: CompileOptions): SyscallPlan[] {
  const table = ARCHES[options.arch].syscalls;
  const kernel = parseKernelVersion(options.kernel ?? release());
  const caps = new Set(options.capabilities);
  const byNr = new Map<number, SyscallPlan>();
  for (const rule of profile.syscalls) {
    if (!ruleApplies(rule, caps, ARCHES[options.arch].goName, kernel)) continue;
    const ret = actionValue(rule.action, rule.errnoRet);
    for (const name of rule.names) {
      const nr = Object.hasOwn(table, name) ? table[name] : undefined;
      if (nr === undefined) continue; // unknown on this architecture: skipped, as libseccomp does
      let plan = byNr.get(nr);
      if (!plan) byNr.set(nr, (plan = { nr, rules: [] }));
      // Past an unconditional rule nothing more can be reached.
      if (plan.rules.some((r) => r.args.length === 0)) continue;
      plan.rules.push({ args: rule.args ?? [], ret });
    }
  }
  return [...byNr.values()].sort((a, b) => a.nr - b.nr);
}

// Classic BPF opcodes (include/uapi/linux/filter.h, bpf_common.h).
const BPF_LD_W_ABS = 0x20;
const BPF_ALU_AND_K = 0x54;
const BPF_JMP_JA = 0x05;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JGT_K = 0x25;
const BPF_JMP_JGE_K = 0x35;
const BPF_RET_K = 0x06;

/** Offsets into struct seccomp_data. */
const DATA_NR = 0;
const DATA_ARCH = 4;
const argLow = (i: number) => 16 + 8 * i;
const argHigh = (i: number) => 20 + 8 * i;

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const stmt = (code: number, k: number): Insn => ({ code, jt: 0, jf: 0, k: k >>> 0 });
const ret = (k: number): Insn => stmt(BPF_RET_K, k);
const load = (offset: number): Insn => stmt(BPF_LD_W_ABS, offset);

/**
 * Small blocks with symbolic forward jumps. A jump target is a label name;
 * `pass`/`fail` labels are placed later with `here()`. Blocks are short
 * (one rule's conditions), so their jumps always fit in 8 bits.
 */
class Block {
  readonly insns: Array<Insn & { tLabel?: string; fLabel?: string }> = [];
  private readonly labels = new Map<string, number>();

  emit(insn: Insn): void {
    this.insns.push(insn);
  }

  jump(code: number, k: number, onTrue: string | 0, onFalse: string | 0): void {
    this.insns.push({
      code,
      jt: 0,
      jf: 0,
      k: k >>> 0,
      ...(onTrue === 0 ? {} : { tLabel: onTrue }),
      ...(onFalse === 0 ? {} : { fLabel: onFalse }),
    });
  }

  here(label: string): void {
    this.labels.set(label, this.insns.length);
  }

  resolve(): Insn[] {
    return this.insns.map((insn, at) => {
      const offset = (label: string | undefined, fallback: number) => {
        if (label === undefined) return fallback;
        const target = this.labels.get(label);
        if (target === undefined) throw new Error(`BPF label ${label} never placed`);
        const distance = target - at - 1;
        if (distance < 0 || distance > 255) throw new Error(`BPF jump to ${label} out of range: ${distance}`);
        return distance;
      };
      return { code: insn.code, jt: offset(insn.tLabel, insn.jt), jf: offset(insn.fLabel, insn.jf), k: insn.k };
    });
  }
}

/**
 * One 64-bit argument condition: falls through (or jumps to `pass`) when it
 * holds, jumps to `fail` when not. Compares the high halves first, then the low.
 */
function emitCondition(block: Block, arg: SeccompArg, pass: string, fail: string): void {
  const value = BigInt(arg.value);
  const hi = Number(value >> 32n);
  const lo = Number(value & 0xffffffffn);
  const two = BigInt(arg.valueTwo ?? 0);
  switch (arg.op) {
    case 'SCMP_CMP_EQ':
      block.emit(load(argHigh(arg.index)));
      block.jump(BPF_JMP_JEQ_K, hi, 0, fail);
      block.emit(load(argLow(arg.index)));
      block.jump(BPF_JMP_JEQ_K, lo, pass, fail);
      break;
    case 'SCMP_CMP_NE':
      block.emit(load(argHigh(arg.index)));
      block.jump(BPF_JMP_JEQ_K, hi, 0, pass);
      block.emit(load(argLow(arg.index)));
      block.jump(BPF_JMP_JEQ_K, lo, fail, pass);
      break;
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE':
      // high above: holds; high below: fails; equal: decided by the low half.
      block.emit(load(argHigh(arg.index)));
      block.jump(BPF_JMP_JGT_K, hi, pass, 0);
      block.jump(BPF_JMP_JEQ_K, hi, 0, fail);
      block.emit(load(argLow(arg.index)));
      block.jump(arg.op === 'SCMP_CMP_GT' ? BPF_JMP_JGT_K : BPF_JMP_JGE_K, lo, pass, fail);
      break;
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE':
      // The negations of GE and GT.
      block.emit(load(argHigh(arg.index)));
      block.jump(BPF_JMP_JGT_K, hi, fail, 0);
      block.jump(BPF_JMP_JEQ_K, hi, 0, pass);
      block.emit(load(argLow(arg.index)));
      block.jump(arg.op === 'SCMP_CMP_LT' ? BPF_JMP_JGE_K : BPF_JMP_JGT_K, lo, fail, pass);
      break;
    case 'SCMP_CMP_MASKED_EQ':
      block.emit(load(argHigh(arg.index)));
      block.emit(stmt(BPF_ALU_AND_K, hi));
      block.jump(BPF_JMP_JEQ_K, Number(two >> 32n), 0, fail);
      block.emit(load(argLow(arg.index)));
      block.emit(stmt(BPF_ALU_AND_K, lo));
      block.jump(BPF_JMP_JEQ_K, Number(two & 0xffffffffn), pass, fail);
      break;
  }
}

/** The code for one system call, entered with nr in A; every path returns. */
function emitSyscall(plan: SyscallPlan, defaultRet: number): Insn[] {
  const out: Insn[] = [];
  for (const rule of plan.rules) {
    if (rule.args.length === 0) {
      out.push(ret(rule.ret));
      return out;
    }
    const block = new Block();
    rule.args.forEach((arg, i) => {
      emitCondition(block, arg, `pass${i}`, 'fail');
      block.here(`pass${i}`);
    });
    block.emit(ret(rule.ret));
    block.here('fail');
    out.push(...block.resolve());
  }
  out.push(ret(defaultRet));
  return out;
}

/**
 * A conditional jump on nr whose false branch skips `skip` instructions:
 * when that is too far for the 8-bit jf, an unconditional BPF_JA (32-bit k) does it.
 */
function branch(code: number, k: number, skip: number): Insn[] {
  if (skip <= 255) return [{ code, jt: 0, jf: skip, k: k >>> 0 }];
  return [{ code, jt: 1, jf: 0, k: k >>> 0 }, stmt(BPF_JMP_JA, skip)];
}

/**
 * A binary search over the planned system calls (sorted by nr). Each subtree
 * is self-contained: every path through it returns, so subtrees only ever
 * jump forward past each other.
 */
function emitSearch(plans: SyscallPlan[], defaultRet: number): Insn[] {
  if (plans.length <= 4) {
    const out: Insn[] = [];
    for (const plan of plans) {
      const body = emitSyscall(plan, defaultRet);
      out.push(...branch(BPF_JMP_JEQ_K, plan.nr, body.length), ...body);
    }
    out.push(ret(defaultRet));
    return out;
  }
  const middle = Math.floor(plans.length / 2);
  const upper = emitSearch(plans.slice(middle), defaultRet);
  const lower = emitSearch(plans.slice(0, middle), defaultRet);
  return [...branch(BPF_JMP_JGE_K, plans[middle]!.nr, upper.length), ...upper, ...lower];
}

/** The BPF program for one container, as the kernel's struct sock_filter[] (little-endian). */
export function compileSeccomp(profile: SeccompProfile, options: CompileOptions): Buffer {
  const arch = ARCHES[options.arch];
  if (!arch) throw new TsboxError(`seccomp: unsupported architecture ${JSON.stringify(options.arch)}`);
  const defaultRet = actionValue(profile.defaultAction, profile.defaultErrnoRet);
  const program: Insn[] = [
    load(DATA_ARCH),
    { code: BPF_JMP_JEQ_K, jt: 1, jf: 0, k: arch.audit >>> 0 },
    ret(SECCOMP_RET_KILL_PROCESS),
    load(DATA_NR),
  ];
  if (options.arch === 'x86_64') {
    program.push({ code: BPF_JMP_JGE_K, jt: 0, jf: 1, k: X32_SYSCALL_BIT }, ret(SECCOMP_RET_KILL_PROCESS));
  }
  program.push(...emitSearch(planSyscalls(profile, options), defaultRet));
  if (program.length > BPF_MAXINSNS) {
    throw new TsboxError(`seccomp profile compiles to ${program.length} BPF instructions, more than the kernel's limit of ${BPF_MAXINSNS}`);
  }
  const buffer = Buffer.alloc(program.length * SOCK_FILTER_SIZE);
  program.forEach((insn, i) => {
    const at = i * SOCK_FILTER_SIZE;
    buffer.writeUInt16LE(insn.code, at);
    buffer.writeUInt8(insn.jt, at + 2);
    buffer.writeUInt8(insn.jf, at + 3);
    buffer.writeUInt32LE(insn.k >>> 0, at + 4);
  });
  return buffer;
}

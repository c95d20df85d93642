// A classic-BPF interpreter for seccomp programs, for tests: runs a compiled
// struct sock_filter[] on a synthetic struct seccomp_data and returns the
// verdict, refusing what the kernel's seccomp checker would refuse
// (unknown opcodes, unaligned or out-of-range loads, jumps past the end).

export interface SeccompData {
  nr: number;
  arch: number;
  ip?: bigint;
  /** Up to six 64-bit arguments; missing ones are 0. */
  args?: Array<bigint | number>;
}

export interface Instruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const SECCOMP_DATA_SIZE = 64;
const MAX_INSNS = 4096;

export function decodeProgram(program: Buffer): Instruction[] {
  if (program.length % 8 !== 0) throw new Error(`program length ${program.length} is not a multiple of 8`);
  const insns: Instruction[] = [];
  for (let at = 0; at < program.length; at += 8) {
    insns.push({
      code: program.readUInt16LE(at),
      jt: program.readUInt8(at + 2),
      jf: program.readUInt8(at + 3),
      k: program.readUInt32LE(at + 4),
    });
  }
  return insns;
}

/** struct seccomp_data as the kernel lays it out on a little-endian machine. */
export function seccompData(data: SeccompData): Buffer {
  const buf = Buffer.alloc(SECCOMP_DATA_SIZE);
  buf.writeInt32LE(data.nr, 0);
  buf.writeUInt32LE(data.arch >>> 0, 4);
  buf.writeBigUInt64LE(data.ip ?? 0n, 8);
  (data.args ?? []).forEach((arg, i) => buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(arg)), 16 + 8 * i));
  return buf;
}

export interface RunResult {
  /** The 32-bit SECCOMP_RET_* value returned. */
  verdict: number;
  /** How many instructions ran. */
  steps: number;
}

/** Runs `program` on `data`; throws where the kernel would refuse the program or it misbehaves. */
export function runSeccompProgram(program: Buffer, data: SeccompData): RunResult {
  const insns = decodeProgram(program);
  if (insns.length === 0 || insns.length > MAX_INSNS) throw new Error(`program has ${insns.length} instructions`);
  const mem = seccompData(data);
  let a = 0;
  let pc = 0;
  let steps = 0;
  for (;;) {
    if (pc >= insns.length) throw new Error(`fell off the end of the program at ${pc}`);
    const { code, jt, jf, k } = insns[pc]!;
    steps++;
    switch (code) {
      case 0x20: // BPF_LD | BPF_W | BPF_ABS
        if (k % 4 !== 0 || k + 4 > SECCOMP_DATA_SIZE) throw new Error(`bad load offset ${k} at ${pc}`);
        a = mem.readUInt32LE(k);
        pc++;
        break;
      case 0x54: // BPF_ALU | BPF_AND | BPF_K
        a = (a & k) >>> 0;
        pc++;
        break;
      case 0x05: // BPF_JMP | BPF_JA
        pc += 1 + k;
        break;
      case 0x15: // BPF_JMP | BPF_JEQ | BPF_K
        pc += 1 + (a === k ? jt : jf);
        break;
      case 0x25: // BPF_JMP | BPF_JGT | BPF_K
        pc += 1 + (a > k ? jt : jf);
        break;
      case 0x35: // BPF_JMP | BPF_JGE | BPF_K
        pc += 1 + (a >= k ? jt : jf);
        break;
      case 0x45: // BPF_JMP | BPF_JSET | BPF_K
        pc += 1 + ((a & k) !== 0 ? jt : jf);
        break;
      case 0x06: // BPF_RET | BPF_K
        return { verdict: k >>> 0, steps };
      default:
        throw new Error(`unknown opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
}

// Linux capabilities: names, numbers, podman's default set, and the
// --cap-add / --cap-drop / --privileged arithmetic podman does.

import { TsboxError } from '../errors.js';

/** Every capability the kernel defines (include/uapi/linux/capability.h), by number. */
export const CAPABILITY_NUMBERS: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

/** All capability names, in number order. */
export const ALL_CAPABILITIES: readonly string[] = Object.keys(CAPABILITY_NUMBERS).sort(
  (a, b) => CAPABILITY_NUMBERS[a]! - CAPABILITY_NUMBERS[b]!,
);

/** containers-common's default_capabilities (pkg/config/default.go), which podman uses. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_NET_BIND_SERVICE',
  'CAP_SETFCAP',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETUID',
  'CAP_SYS_CHROOT',
];

export interface CapabilityRequest {
  /** --cap-add values: `NET_ADMIN`, `cap_net_admin`, `ALL`. */
  add?: readonly string[];
  /** --cap-drop values, same spellings. */
  drop?: readonly string[];
  /** --privileged: start from every capability instead of the default set. */
  privileged?: boolean;
}

const ALL = 'ALL';

/** `net_admin` → `CAP_NET_ADMIN`; `all` → `ALL`; unknown names refused. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === ALL) return ALL;
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!(full in CAPABILITY_NUMBERS)) throw new TsboxError(`unknown capability "${full}"`);
  return full;
}

/**
 * The capabilities a container keeps, sorted by name, as podman computes them:
 * `ALL` in drop keeps only what is added; `ALL` in add keeps everything but
 * what is dropped; naming one capability in both is refused.
 */
export function resolveCapabilities(request: CapabilityRequest = {}): string[] {
  const adds = new Set((request.add ?? []).map(normalizeCapability));
  const drops = new Set((request.drop ?? []).map(normalizeCapability));
  const base = request.privileged ? ALL_CAPABILITIES : DEFAULT_CAPABILITIES;

  if (drops.has(ALL)) {
    if (adds.has(ALL)) throw new TsboxError('adding all capabilities and dropping all capabilities at once is not allowed');
    return [...adds].sort();
  }
  for (const cap of adds) {
    if (drops.has(cap)) throw new TsboxError(`capability "${cap}" cannot be both added and dropped`);
  }
  const kept = new Set(adds.has(ALL) ? ALL_CAPABILITIES : base);
  for (const cap of adds) if (cap !== ALL) kept.add(cap);
  for (const cap of drops) kept.delete(cap);
  return [...kept].sort();
}

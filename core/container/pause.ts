// `pause` and `unpause` freeze a container's processes through the cgroup
// freezer, which needs the container in a cgroup of its own: on cgroup v2 a
// delegated, user-writable cgroup where `cgroup.freeze` is written. tsbox does
// not create per-container cgroups yet, so these report what this host would
// need instead of faking a pause (SIGSTOP would be visible to the container
// and undone by any SIGCONT).
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsboxError } from '../errors.js';

export type CgroupLayout = 'v2' | 'v1' | 'hybrid';

export interface CgroupHost {
  layout: CgroupLayout;
  /** our own cgroup v2 path (from /proc/self/cgroup's `0::` line), when there is one */
  ownCgroup?: string;
  /** whether our cgroup v2 directory is writable by us (delegated) */
  delegated: boolean;
  /** the v2 controllers available at the root */
  controllers: string[];
}

/** What /proc/self/cgroup and /sys/fs/cgroup say about this host. */
export function cgroupHost(procSelfCgroup = '/proc/self/cgroup', root = '/sys/fs/cgroup'): CgroupHost {
  let lines: string[] = [];
  try {
    lines = readFileSync(procSelfCgroup, 'utf8').split('\n').filter((l) => l !== '');
  } catch {
    // no /proc: treated as v1 below
  }
  const unified = lines.find((l) => l.startsWith('0::'));
  const v1 = lines.some((l) => !l.startsWith('0::'));
  let controllers: string[] = [];
  try {
    controllers = readFileSync(join(root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter((c) => c !== '');
  } catch {
    // no cgroup2 mounted at the root
  }
  const layout: CgroupLayout = unified && !v1 ? 'v2' : unified ? 'hybrid' : 'v1';
  const ownCgroup = unified?.slice(3);
  let delegated = false;
  if (layout === 'v2' && ownCgroup !== undefined) {
    try {
      accessSync(join(root, ownCgroup), constants.W_OK);
      delegated = true;
    } catch {
      delegated = false;
    }
  }
  return { layout, ...(ownCgroup !== undefined ? { ownCgroup } : {}), delegated, controllers };
}

/** The one-line reason `pause`/`unpause` cannot work here, naming what this host lacks. */
export function pauseUnsupported(action: 'pause' | 'unpause', host: CgroupHost = cgroupHost()): TsboxError {
  const rootless = (process.getuid?.() ?? 0) !== 0;
  if (host.layout !== 'v2' && rootless) {
    return new TsboxError(`${action} is not supported for rootless containers on cgroup ${host.layout === 'hybrid' ? 'v1 (hybrid layout)' : 'v1'}`, {
      hint: 'the freezer needs a unified cgroup v2 hierarchy (systemd.unified_cgroup_hierarchy=1)',
    });
  }
  const missing = !host.delegated
    ? `this host has cgroup v2, but your cgroup ${host.ownCgroup ?? '(unknown)'} is not delegated to you (e.g. run under systemd --user or systemd-run --user --scope)`
    : 'this host has cgroup v2 with a delegated cgroup, but tsbox does not put containers in cgroups of their own yet';
  return new TsboxError(`${action} is not supported: it needs the container in its own cgroup v2 with the freezer (cgroup.freeze), which tsbox does not set up yet`, {
    hint: missing,
  });
}

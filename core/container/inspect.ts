// A container as `podman container inspect` describes it: the same field
// names and shapes, from the record (config.json) and the reconciled state.
// What tsbox does not record (the entrypoint/cmd split, --privileged) is
// given as podman would for the common case, or inferred from the spec.
import { join } from 'node:path';
import { DEFAULT_CAPABILITIES } from '../security/capabilities.js';
import { containerLabels, containerPorts, userMounts, type ContainerEntry } from './list.js';
import type { ContainerStore } from '../runtime/containers.js';
import type { PortMapping } from '../network/publish.js';

/** Go's zero time.Time in JSON: what podman prints for "never". */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The OCI runtime spec version tsbox's helper implements (as crun reports its own). */
const OCI_VERSION = '1.0.2';

/** `{"80/tcp": [{HostIp, HostPort}]}`: one key per container port (ranges expanded), as podman's PortBindings. */
export function portBindings(ports: PortMapping[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const m of ports) {
    for (let k = 0; k < m.range; k++) {
      const key = `${m.containerPort + k}/${m.protocol}`;
      (out[key] ??= []).push({ HostIp: m.hostIp, HostPort: m.hostPort === 0 ? '' : String(m.hostPort + k) });
    }
  }
  return out;
}

export function inspectContainer(containers: ContainerStore, entry: ContainerEntry): Record<string, unknown> {
  const { record, state } = entry;
  const spec = record.Spec;
  const paths = containers.paths(record.Id);
  const args = spec.process.args;
  // tsbox's --privileged is not recorded as such: it is what leaves no path masked
  const privileged = spec.maskedPaths.length === 0 && spec.readonlyPaths.length === 0;
  const caps = spec.process.capabilities;
  const capAdd = privileged || !caps ? [] : caps.filter((c) => !DEFAULT_CAPABILITIES.includes(c));
  const capDrop = privileged || !caps ? [] : DEFAULT_CAPABILITIES.filter((c) => !caps.includes(c));
  const securityOpt: string[] = [];
  if (!spec.seccomp) securityOpt.push('seccomp=unconfined');
  else if (spec.seccomp.profile !== 'default') securityOpt.push(`seccomp=${spec.seccomp.profile}`);
  if (spec.process.noNewPrivileges) securityOpt.push('no-new-privileges');
  const mounts = userMounts(containers, record);
  const labels = containerLabels(record);
  const requested = containerPorts({ record, state: { ...state, Status: 'created' } });
  const run = record.Run;

  return {
    Id: record.Id,
    Created: record.Created,
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      OciVersion: OCI_VERSION,
      Status: state.Status,
      Running: state.Status === 'running',
      Paused: state.Status === 'paused',
      Restarting: false,
      OOMKilled: state.OOMKilled,
      Dead: false,
      Pid: state.Pid,
      ConmonPid: state.Status === 'running' || state.Status === 'paused' || state.Status === 'stopping' ? state.MonitorPid : 0,
      ExitCode: state.ExitCode,
      Error: state.Error,
      StartedAt: state.StartedAt || ZERO_TIME,
      FinishedAt: state.FinishedAt || ZERO_TIME,
    },
    Image: record.Image,
    ImageName: record.ImageName,
    Rootfs: spec.root.rootfs ?? '',
    Pod: '',
    ResolvConfPath: join(paths.userdata, 'resolv.conf'),
    HostnamePath: join(paths.userdata, 'hostname'),
    HostsPath: join(paths.userdata, 'hosts'),
    StaticDir: paths.dir,
    OCIRuntime: 'tsbox-helper',
    LogPath: join(paths.userdata, 'ctr.log'),
    Name: record.Name,
    RestartCount: state.RestartCount,
    Driver: 'overlay',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    EffectiveCaps: caps ?? [...DEFAULT_CAPABILITIES],
    BoundingCaps: caps ?? [...DEFAULT_CAPABILITIES],
    ExecIDs: [],
    GraphDriver: { Name: 'overlay', Data: { UpperDir: paths.upper, WorkDir: paths.work, MergedDir: paths.merged } },
    Mounts: mounts.map((m) => ({
      Type: m.type,
      ...(m.type === 'volume' ? { Name: m.name } : {}),
      Source: m.source,
      Destination: m.destination,
      Driver: m.type === 'volume' ? 'local' : '',
      Mode: '',
      Options: [...m.options.filter((o) => o !== 'ro' && o !== 'rw'), 'rbind'],
      RW: !m.readOnly,
      Propagation: 'rprivate',
    })),
    NetworkSettings: {
      Ports: portBindings(containerPorts(entry)),
    },
    Namespace: '',
    IsInfra: false,
    IsService: false,
    Config: {
      Hostname: spec.hostname,
      Domainname: '',
      User: spec.process.user,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: spec.process.terminal,
      OpenStdin: run?.Interactive ?? false,
      StdinOnce: false,
      Env: spec.process.env,
      // the entrypoint and cmd are recorded merged: the whole command is the Cmd
      Cmd: args,
      Entrypoint: [],
      Image: record.ImageName,
      Volumes: null,
      WorkingDir: spec.process.cwd,
      Labels: Object.keys(labels).length > 0 ? labels : null,
      Annotations: {},
      StopSignal: run?.StopSignal ?? 'SIGTERM',
      StopTimeout: run?.StopTimeout ?? 10,
      CreateCommand: [],
    },
    HostConfig: {
      Binds: mounts.map((m) => `${m.type === 'volume' ? m.name : m.source}:${m.destination}${m.readOnly ? ':ro' : ''}`),
      NetworkMode: spec.network.mode,
      PortBindings: portBindings(requested),
      RestartPolicy: run?.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: run?.Remove ?? false,
      CapAdd: capAdd,
      CapDrop: capDrop,
      Dns: spec.network.dns,
      ExtraHosts: spec.network.addHosts,
      Privileged: privileged,
      ReadonlyRootfs: spec.root.readonly,
      SecurityOpt: securityOpt,
      Init: spec.process.init,
      UsernsMode: spec.userns ?? '',
    },
  };
}

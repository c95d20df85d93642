// A container's network, as core/network provides it: the /etc files written
// into userdata/ before start, and slirp4netns or pasta started on the
// container's pid (between the helper's pid event and its exec).
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Reporter } from '../progress.js';
import type { NetworkMode as NetworkFlag } from '../network/mode.js';
import type { ContainerSpec, NetworkMode } from './spec.js';
import type { RunningNetwork } from '../network/start.js';

/** What `--network` asked for, resolved to what runs: none, host, or a backend. */
export async function resolveNetworkMode(flag: NetworkFlag): Promise<NetworkMode> {
  if (flag.kind === 'none' || flag.kind === 'host' || flag.kind === 'slirp4netns' || flag.kind === 'pasta') return flag.kind;
  const { defaultBackend } = await import('../network/mode.js');
  return defaultBackend().backend;
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** /etc/hosts, /etc/resolv.conf and /etc/hostname for the container. */
export async function networkFiles(spec: ContainerSpec, name: string, flag: NetworkFlag): Promise<{ hosts: string; resolvConf: string; hostname: string }> {
  const files = await import('../network/files.js');
  const mode = spec.network.mode;
  const hostGateway = files.hostGatewayAddress(mode, files.hostAddresses(networkInterfaces()), {
    allowHostLoopback: flag.kind === 'slirp4netns' && flag.allowHostLoopback,
  });
  const hosts = files.hostsFile({
    hostname: spec.hostname,
    name,
    addHosts: spec.network.addHosts,
    ...(mode === 'slirp4netns' ? { containerIp: files.SLIRP4NETNS_CONTAINER_IP } : {}),
    ...(hostGateway ? { hostGateway } : {}),
  });
  const upstream = readIfPresent('/run/systemd/resolve/resolv.conf');
  const resolvConf = files.resolvConf({
    network: mode,
    dns: spec.network.dns,
    hostResolvConf: readIfPresent('/etc/resolv.conf') ?? '',
    ...(upstream !== undefined ? { upstreamResolvConf: upstream } : {}),
  });
  return { hosts, resolvConf, hostname: files.hostnameFile(spec.hostname) };
}

/** Starts slirp4netns or pasta for the container whose first process is `pid`. */
export async function startContainerNetwork(
  spec: ContainerSpec,
  flag: NetworkFlag,
  pid: number,
  reporter: Reporter,
  /** a detached container's backend: outlives us, output to this file */
  detached?: { logFile: string },
): Promise<RunningNetwork> {
  const { startNetwork, parsePublishList } = await import('../network/index.js');
  const backend = spec.network.mode === 'pasta' ? 'pasta' : 'slirp4netns';
  return startNetwork({
    pid,
    backend,
    ports: parsePublishList(spec.network.ports),
    reporter,
    ...(detached ? { detached } : {}),
    ...(flag.kind === 'slirp4netns'
      ? { allowHostLoopback: flag.allowHostLoopback, enableIpv6: flag.enableIpv6, ...(flag.mtu !== undefined ? { mtu: flag.mtu } : {}) }
      : {}),
    ...(flag.kind === 'pasta' ? { extraArgs: flag.args } : {}),
  });
}

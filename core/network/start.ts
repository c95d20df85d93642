// Starts slirp4netns or pasta on a container's network namespace and publishes
// its ports. Both run on the host as the user, join the container's user and
// network namespaces by /proc/PID/ns paths, and are tied to this process:
// neither exits by itself when the container's netns goes away (checked with
// slirp4netns 1.2.0 and pasta 2023-03), so stop() ends them, and if tsbox is
// killed slirp4netns sees its --exit-fd close and pasta gets SIGKILL through
// PR_SET_PDEATHSIG (setpriv --pdeathsig), so neither lingers.
//
// A detached container's network must outlive the tsbox that started it
// (`run -d`): with `detached`, the backend gets its own session and neither
// tie, logs to a file, and a later tsbox ends it with stopNetworkProcess(),
// which checks the pid's start time first so a reused pid is left alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { randomHex } from '../random.js';
import { TsboxError } from '../errors.js';
import { runtimeDir } from '../paths.js';
import { silentReporter, type Reporter } from '../progress.js';
import { PASTA_DNS_FORWARDER, SLIRP4NETNS_CONTAINER_IP, SLIRP4NETNS_DNS, SLIRP4NETNS_GATEWAY } from './files.js';
import { findProgram, hostHasDefaultRoute, requireBackend, type Backend } from './mode.js';
import { assignHostPorts } from './ports.js';
import type { PortMapping } from './publish.js';

export interface StartNetworkOptions {
  /** host pid of a process inside the container's user and network namespaces */
  pid: number;
  backend: Backend;
  ports?: PortMapping[];
  mtu?: number;
  /** slirp4netns: let the container reach the host's 127.0.0.1 through 10.0.2.2 (podman's allow_host_loopback) */
  allowHostLoopback?: boolean;
  enableIpv6?: boolean;
  /** pasta: extra arguments from `--network pasta:ARGS` */
  extraArgs?: string[];
  reporter?: Reporter;
  /** how long the backend may take to come up; 10 s when unset */
  timeoutMs?: number;
  /** `$PATH` to find the backend on (tests) */
  path?: string;
  /**
   * Outlive this process: the backend runs in its own session, unref'd, with
   * no --exit-fd or pdeathsig, its output appended to `logFile`; end it with
   * stopNetworkProcess(info).
   */
  detached?: { logFile: string };
}

export interface NetworkInfo {
  backend: Backend;
  /** the backend's pid */
  pid: number;
  /** its start time (field 22 of /proc/PID/stat): a later process can tell the pid was not reused */
  start: number;
  /** the interface inside the container */
  interface: string;
  /** the container's address; for pasta the host's own, which pasta copies */
  containerIp?: string;
  gateway?: string;
  /** where the container's DNS queries go when --dns is not given */
  dns?: string;
  /** the published ports, host ports assigned */
  ports: PortMapping[];
  /** slirp4netns's API socket */
  apiSocket?: string;
  /** pasta's pid file */
  pidFile?: string;
}

export interface RunningNetwork {
  info: NetworkInfo;
  /** Ends the backend and removes its files; safe to call twice. */
  stop(): Promise<void>;
}

const DEFAULT_MTU = 65520;
const DEFAULT_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 2_000;
const OUTPUT_TAIL = 4096;
const POLL_MS = 10;

function networkDir(): string {
  const dir = join(runtimeDir(), 'tsbox', 'network');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * The last two meaningful lines of a backend's output: pasta's syslog
 * complaints and warnings left out, and a usage text printed after the error
 * (slirp4netns's stdout reaches a file or pipe only when it exits) cut off.
 */
function lastLines(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('Failed to send') && !l.startsWith('WARNING:') && !l.startsWith('*'));
  const usage = lines.findIndex((l) => l.startsWith('Usage:'));
  const meaningful = usage > 0 ? lines.slice(0, usage) : lines;
  return meaningful.slice(-2).join('; ');
}

/** What a backend wrote, for its error message. */
interface OutputTail {
  lastLine(): string;
}

/** The last bytes a backend wrote to our pipes. */
class PipeTail implements OutputTail {
  private text = '';
  add(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
  }
  lastLine(): string {
    return lastLines(this.text);
  }
}

/** The last bytes of a detached backend's log file, read when needed. */
class FileTail implements OutputTail {
  constructor(private readonly fd: number) {}
  lastLine(): string {
    try {
      const size = fstatSync(this.fd).size;
      const length = Math.min(size, OUTPUT_TAIL);
      const buf = Buffer.alloc(length);
      const n = readSync(this.fd, buf, 0, length, size - length);
      return lastLines(buf.subarray(0, n).toString('utf8'));
    } catch {
      return '';
    }
  }
}

/** A detached backend's log, opened for appending; the fd is also read for error messages. */
function openLog(logFile: string): number {
  mkdirSync(dirname(logFile), { recursive: true, mode: 0o700 });
  return openSync(logFile, 'a+', 0o600);
}

/**
 * Field 22 of /proc/PID/stat (start time in clock ticks since boot), or
 * undefined when there is no such process or it is a zombie (already dead).
 */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // the command name (field 2) may hold spaces and parentheses: count from the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  const start = Number(fields[19]);
  return Number.isFinite(start) ? start : undefined;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals | undefined): Promise<void> {
  if (signal) child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited(child);
  clearTimeout(timer);
}

const PORT_IN_USE_HINT = 'is the port already in use? choose another host port with -p';

function startError(backend: Backend, why: string, tail: OutputTail): TsboxError {
  const output = tail.lastLine();
  const hint =
    /\/dev\/net\/tun/.test(output) && /ermission/.test(output)
      ? '/dev/net/tun must be usable by everyone (mode 0666), as distributions ship it'
      : /Failed to bind/.test(output)
        ? PORT_IN_USE_HINT
        : backend === 'pasta' && !hostHasDefaultRoute()
          ? // the pasta of 2023 (Debian 12's) copies the host's default route and refuses to start without one
            'pasta needs a default route on the host: install slirp4netns, or use --network none'
          : undefined;
  return new TsboxError(`${backend} failed to set up the network: ${output || why}`, hint ? { hint } : {});
}

/** Waits until `ready` resolves, the child exits, or time runs out; kills the child on failure. */
async function awaitReady(
  backend: Backend,
  child: ChildProcess,
  tail: OutputTail,
  ready: Promise<void>,
  timeoutMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const failure = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new TsboxError(`cannot run ${backend}: ${err.message}`)));
    child.once('exit', (code, signal) =>
      // let the last output arrive before reading it
      setImmediate(() => reject(startError(backend, `it exited with ${signal ?? `status ${code}`}`, tail))),
    );
    timer = setTimeout(() => reject(startError(backend, `not ready after ${timeoutMs} ms`, tail)), timeoutMs);
  });
  try {
    await Promise.race([ready, failure]);
  } catch (err) {
    await terminate(child, 'SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

let slirpHelp: string | undefined;

/** slirp4netns --help, once: which optional flags this build has (podman checks the same way). */
function slirp4netnsFeatures(path: string): { seccomp: boolean } {
  if (slirpHelp === undefined) {
    try {
      slirpHelp = execFileSync(path, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
    } catch (err) {
      slirpHelp = String((err as { stdout?: string }).stdout ?? '');
    }
  }
  return { seccomp: slirpHelp.includes('--enable-seccomp') };
}

/** One request on slirp4netns's API socket: it answers one JSON object and closes. */
function slirpApi(socketPath: string, request: object, timeoutMs: number): Promise<{ return?: unknown; error?: { desc?: string } }> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socketPath);
    let reply = '';
    const timer = setTimeout(() => conn.destroy(new Error(`no answer on ${socketPath} after ${timeoutMs} ms`)), timeoutMs);
    conn.setEncoding('utf8');
    conn.on('data', (d) => (reply += d));
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    conn.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(reply));
      } catch {
        reject(new Error(`unreadable answer from slirp4netns: ${JSON.stringify(reply)}`));
      }
    });
    conn.end(JSON.stringify(request));
  });
}

async function publishOnSlirp4netns(socketPath: string, ports: PortMapping[], timeoutMs: number): Promise<void> {
  for (const m of ports) {
    for (let k = 0; k < m.range; k++) {
      const request = {
        execute: 'add_hostfwd',
        arguments: {
          proto: m.protocol,
          host_addr: m.hostIp || '0.0.0.0',
          host_port: m.hostPort + k,
          guest_addr: SLIRP4NETNS_CONTAINER_IP,
          guest_port: m.containerPort + k,
        },
      };
      let answer;
      try {
        answer = await slirpApi(socketPath, request, timeoutMs);
      } catch (err) {
        throw new TsboxError(`cannot publish port ${m.hostPort + k}: ${(err as Error).message}`);
      }
      if (answer.error) {
        const where = `${m.hostIp || '0.0.0.0'}:${m.hostPort + k}/${m.protocol}`;
        throw new TsboxError(`cannot publish ${where}: ${answer.error.desc ?? JSON.stringify(answer.error)}`, {
          hint: PORT_IN_USE_HINT,
        });
      }
    }
  }
}

async function startSlirp4netns(options: StartNetworkOptions, path: string, ports: PortMapping[]): Promise<RunningNetwork> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const detached = options.detached !== undefined;
  const apiSocket = join(networkDir(), `slirp4netns-${options.pid}-${randomHex(4)}.sock`);
  const args = [
    '--configure',
    `--mtu=${options.mtu ?? DEFAULT_MTU}`,
    // podman's default: the container must not reach services bound to the host's 127.0.0.1
    ...(options.allowHostLoopback ? [] : ['--disable-host-loopback']),
    ...(options.enableIpv6 ? ['--enable-ipv6'] : []),
    // --enable-sandbox is left out: it needs slirp4netns to be root in a user
    // namespace (podman runs it inside its own); run by the user on the host it fails
    ...(slirp4netnsFeatures(path).seccomp ? ['--enable-seccomp'] : []),
    '--ready-fd=3',
    ...(detached ? [] : ['--exit-fd=4']),
    `--api-socket=${apiSocket}`,
    `--userns-path=/proc/${options.pid}/ns/user`,
    '--netns-type=path',
    `/proc/${options.pid}/ns/net`,
    'tap0',
  ];
  options.reporter?.debug(`starting ${path} ${args.join(' ')}`);
  // fd 3: slirp4netns writes "1" once tap0 is configured; fd 4: it exits when our end closes
  const logFd = detached ? openLog(options.detached!.logFile) : undefined;
  const child =
    logFd === undefined
      ? spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] })
      : spawn(path, args, { stdio: ['ignore', logFd, logFd, 'pipe'], detached: true });
  let tail: OutputTail;
  if (logFd === undefined) {
    const pipeTail = new PipeTail();
    child.stdout!.on('data', (d: Buffer) => pipeTail.add(d));
    child.stderr!.on('data', (d: Buffer) => pipeTail.add(d));
    tail = pipeTail;
  } else {
    tail = new FileTail(logFd);
  }
  const readyPipe = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  const exitPipe = child.stdio[4] as (NodeJS.WritableStream & { destroy(): void; on(e: 'error', f: () => void): void }) | null;
  exitPipe?.on('error', () => {});
  const ready = new Promise<void>((resolve) => readyPipe.once('data', () => resolve()));

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    readyPipe.destroy();
    exitPipe?.destroy();
    // a detached slirp4netns has no exit fd to see closing: it needs a signal
    await terminate(child, detached ? 'SIGTERM' : undefined);
    rmSync(apiSocket, { force: true });
  };
  try {
    await awaitReady('slirp4netns', child, tail, ready, timeoutMs);
    readyPipe.destroy();
    await publishOnSlirp4netns(apiSocket, ports, timeoutMs);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    if (logFd !== undefined) closeSync(logFd);
  }
  const info: NetworkInfo = {
    backend: 'slirp4netns',
    pid: child.pid!,
    start: processStartTime(child.pid!) ?? 0,
    interface: 'tap0',
    containerIp: SLIRP4NETNS_CONTAINER_IP,
    gateway: SLIRP4NETNS_GATEWAY,
    dns: SLIRP4NETNS_DNS,
    ports,
    apiSocket,
  };
  return detach(options, child, info, stop);
}

/**
 * The RunningNetwork for a started backend. Detached, this process stops
 * waiting for it (unref) and stop() goes through stopNetworkProcess, as a
 * later tsbox would.
 */
function detach(options: StartNetworkOptions, child: ChildProcess, info: NetworkInfo, stop: () => Promise<void>): RunningNetwork {
  if (!options.detached) return { info, stop };
  child.unref();
  let stopped = false;
  return {
    info,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopNetworkProcess(info);
    },
  };
}

/** pasta's -t/-u spec for one mapping: `[ADDR/]HOST[-END]:CTR[-END]`. */
export function pastaPortSpec(m: PortMapping): string {
  const span = (start: number) => (m.range === 1 ? `${start}` : `${start}-${start + m.range - 1}`);
  return `${m.hostIp ? `${m.hostIp}/` : ''}${span(m.hostPort)}:${span(m.containerPort)}`;
}

/** The pasta arguments after the program name. */
export function pastaArgs(options: { pid: number; ports: PortMapping[]; mtu?: number; pidFile: string; extraArgs?: string[] }): string[] {
  const forward = (protocol: 'tcp' | 'udp', flag: string) => {
    const specs = options.ports.filter((p) => p.protocol === protocol).map(pastaPortSpec);
    // pasta's default is "auto" (every port bound in the container): publish only what -p asks for
    return specs.length ? specs.flatMap((s) => [flag, s]) : [flag, 'none'];
  };
  return [
    '--config-net',
    '--foreground',
    '--quiet',
    '--netns',
    `/proc/${options.pid}/ns/net`,
    '--userns',
    `/proc/${options.pid}/ns/user`,
    '--pid',
    options.pidFile,
    // as podman 4: the gateway is not the host's loopback, and the container's own
    // loopback ports are not forwarded to the host's
    '--no-map-gw',
    '-T',
    'none',
    '-U',
    'none',
    '--dns-forward',
    PASTA_DNS_FORWARDER,
    ...(options.mtu ? ['--mtu', String(options.mtu)] : []),
    ...forward('tcp', '-t'),
    ...forward('udp', '-u'),
    ...(options.extraArgs ?? []),
  ];
}

/** The host's default-route interface and its IPv4 address, which pasta copies into the container. */
function defaultRoute(): { device?: string; address?: string; gateway?: string } {
  try {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const [device, destination, gatewayHex] = line.split(/\s+/);
      if (destination !== '00000000' || !device || !gatewayHex) continue;
      const g = Number.parseInt(gatewayHex, 16);
      const gateway = [g & 255, (g >>> 8) & 255, (g >>> 16) & 255, g >>> 24].join('.');
      const address = networkInterfaces()[device]?.find((i) => i.family === 'IPv4')?.address;
      return { device, address, gateway };
    }
  } catch {
    // no /proc/net/route: nothing to report
  }
  return {};
}

async function startPasta(options: StartNetworkOptions, path: string, ports: PortMapping[]): Promise<RunningNetwork> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const pidFile = join(networkDir(), `pasta-${options.pid}-${randomHex(4)}.pid`);
  const args = pastaArgs({ pid: options.pid, ports, mtu: options.mtu, pidFile, extraArgs: options.extraArgs });
  const logFd = options.detached ? openLog(options.detached.logFile) : undefined;
  let child: ChildProcess;
  let tail: OutputTail;
  if (logFd === undefined) {
    // pasta has no --exit-fd: setpriv makes the kernel kill it when tsbox dies
    const setpriv = findProgram('setpriv', options.path);
    const [program, argv] = setpriv ? [setpriv, ['--pdeathsig', 'SIGKILL', path, ...args]] : [path, args];
    if (!setpriv) options.reporter?.warn('setpriv not found: pasta may outlive tsbox if tsbox is killed');
    options.reporter?.debug(`starting ${program} ${argv.join(' ')}`);
    child = spawn(program, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const pipeTail = new PipeTail();
    child.stdout!.on('data', (d: Buffer) => pipeTail.add(d));
    child.stderr!.on('data', (d: Buffer) => pipeTail.add(d));
    tail = pipeTail;
  } else {
    options.reporter?.debug(`starting ${path} ${args.join(' ')}`);
    child = spawn(path, args, { stdio: ['ignore', logFd, logFd], detached: true });
    tail = new FileTail(logFd);
  }

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await terminate(child, 'SIGTERM');
    rmSync(pidFile, { force: true });
  };
  // in the foreground pasta writes its pid file once the namespace is configured and ports are bound
  let polling = true;
  const ready = (async () => {
    while (polling) {
      try {
        if (readFileSync(pidFile, 'utf8').trim()) return;
      } catch {
        // not written yet
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    await awaitReady('pasta', child, tail, ready, timeoutMs);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    polling = false;
    if (logFd !== undefined) closeSync(logFd);
  }
  const route = defaultRoute();
  const info: NetworkInfo = {
    backend: 'pasta',
    pid: child.pid!,
    start: processStartTime(child.pid!) ?? 0,
    interface: route.device ?? 'eth0',
    ...(route.address ? { containerIp: route.address } : {}),
    ...(route.gateway ? { gateway: route.gateway } : {}),
    dns: PASTA_DNS_FORWARDER,
    ports,
    pidFile,
  };
  return detach(options, child, info, stop);
}

/** Starts the backend on the netns of `pid`, publishes `ports`, resolves once the container can use the network. */
export async function startNetwork(options: StartNetworkOptions): Promise<RunningNetwork> {
  const { path } = requireBackend(options.backend, options.path);
  const ports = await assignHostPorts(options.ports ?? []);
  const reporter = options.reporter ?? silentReporter;
  const withReporter = { ...options, reporter };
  return options.backend === 'pasta' ? startPasta(withReporter, path, ports) : startSlirp4netns(withReporter, path, ports);
}

export interface NetworkProcess {
  pid: number;
  /** field 22 of /proc/PID/stat when the backend started */
  start: number;
  /** pasta's pid file, removed */
  pidFile?: string;
  /** slirp4netns's API socket, removed */
  apiSocket?: string;
}

async function gone(pid: number, start: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (processStartTime(pid) !== start) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Ends a (detached) backend started by any tsbox process: SIGTERM, SIGKILL
 * after `graceMs`, only while /proc/PID/stat still shows `start` (a reused pid
 * is another process and is not signalled). Its pid file or API socket is
 * removed either way: they belong to this backend, which is gone.
 * Resolves true when it ended the backend, false when it was already gone.
 */
export async function stopNetworkProcess(net: NetworkProcess, options: { graceMs?: number } = {}): Promise<boolean> {
  let ended = false;
  const signal = (name: NodeJS.Signals) => {
    // re-checked right before each signal: the window for a reused pid is as small as we can make it
    if (processStartTime(net.pid) !== net.start) return false;
    try {
      process.kill(net.pid, name);
      return true;
    } catch {
      return false;
    }
  };
  if (net.pid > 0 && signal('SIGTERM')) {
    ended = true;
    if (!(await gone(net.pid, net.start, options.graceMs ?? STOP_GRACE_MS)) && signal('SIGKILL')) {
      await gone(net.pid, net.start, STOP_GRACE_MS);
    }
  }
  if (net.pidFile) rmSync(net.pidFile, { force: true });
  if (net.apiSocket) rmSync(net.apiSocket, { force: true });
  return ended;
}

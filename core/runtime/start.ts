// `tsbox run` end to end, below the command line: find (or have pulled) the
// image, build the spec, create the container, run it, clean up after --rm.
// The warm path reads a few small files and spawns one helper: no registry
// client, no tar code, no second node process.
import { readFileSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { hostname } from 'node:os';
import { TsboxError } from '../errors.js';
import { silentReporter, type Reporter } from '../progress.js';
import { parseImageConfig, type ImageConfig } from '../pull/config.js';
import { openStore, ImageNotFoundError, type ImageRecord, type ImageStore } from '../store/index.js';
import { currentMapping, findMappingTools, type UserMapping } from '../userns/mapping.js';
import { ContainerNotFoundError, ContainerStore, newContainerId, removeTreeInUserNamespace, type ContainerPaths } from './containers.js';
import { keepIdMapping } from './keep-id.js';
import { removeAnonymousVolumes, resolveMounts } from './mounts.js';
import { networkFiles, resolveNetworkMode, startContainerNetwork } from './network.js';
import type { NetworkMode as NetworkFlag } from '../network/mode.js';
import type { MountEntry } from '../volume/mount-flags.js';
import { runContainer } from './run.js';
import { buildSpec, type ContainerRecord, type ContainerRunConfig, type ContainerSpec, type Mount, type SpecOptions } from './spec.js';
import { overlayHost, planOverlay } from './overlay.js';
import { currentBootId, initialState, processStartTime, updateState, writeState } from '../container/state.js';
import type { NetworkInfo as RunningNetworkInfo } from '../network/start.js';

export type PullPolicy = 'missing' | 'always' | 'never';

export interface RunRequest extends Omit<SpecOptions, 'id' | 'layers' | 'ownIds' | 'mounts' | 'network'> {
  image: string;
  /** -v, --mount and --tmpfs as core/volume parsed them */
  mountEntries?: MountEntry[];
  /** --network as core/network parsed it (default: private) */
  networkFlag?: NetworkFlag;
  /** -p values */
  publish?: string[];
  dns?: string[];
  addHosts?: string[];
  name?: string;
  remove?: boolean;
  /** -d: started in the background under a monitor */
  detach?: boolean;
  restart?: ContainerRunConfig['RestartPolicy'];
  stopSignal?: string;
  stopTimeout?: number;
  /** -i: keep stdin attached */
  interactive?: boolean;
  pull?: PullPolicy;
  /** paths of --env-file, read here */
  envFilePaths?: string[];
}

export interface RunHooks {
  reporter?: Reporter;
  /** pulls `image` and resolves to the pulled image's id (the CLI runs `tsbox pull`) */
  pull(image: string): Promise<string>;
  /** the compiled seccomp program for the spec, when it has a profile */
  seccomp?(spec: ContainerSpec): Promise<Buffer | undefined>;
  /** called with the new container's id once it exists (--cidfile) */
  onCreated?(id: string): Promise<void>;
}

async function findOrPull(store: ImageStore, request: RunRequest, hooks: RunHooks): Promise<ImageRecord> {
  const policy = request.pull ?? 'missing';
  if (policy !== 'always') {
    try {
      return await store.findImage(request.image);
    } catch (err) {
      if (!(err instanceof ImageNotFoundError) || policy === 'never') throw err;
    }
  }
  const id = await hooks.pull(request.image);
  return store.findImage(id);
}

/** podman's /run/.containerenv: empty unless --privileged, which gets who and what the container is. */
function containerEnv(record: ContainerRecord, privileged: boolean): string {
  if (!privileged) return '';
  const rootless = (process.getuid?.() ?? 0) !== 0 ? 1 : 0;
  return `engine="tsbox"\nname="${record.Name}"\nid="${record.Id}"\nimage="${record.ImageName}"\nimageid="${record.Image}"\nrootless=${rootless}\n`;
}

async function checkRootfs(dir: string): Promise<void> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new TsboxError(`--rootfs ${dir}: not a directory`, { hint: 'give the path of an unpacked root filesystem' });
}

function readEnvFiles(paths: string[]): string[] {
  return paths.map((path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new TsboxError(`reading --env-file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
  });
}

/**
 * The bind mounts of the generated files, unless the user mounts something
 * there: /etc/hosts, /etc/resolv.conf, /etc/hostname, and podman's
 * /run/.containerenv (how tools such as toolbox tell they run in a container).
 */
function etcMounts(paths: ContainerPaths, user: Mount[]): Mount[] {
  const taken = new Set(user.map((m) => m.destination));
  const out: Mount[] = [];
  for (const [file, destination] of [
    ['hosts', '/etc/hosts'],
    ['resolv.conf', '/etc/resolv.conf'],
    ['hostname', '/etc/hostname'],
    ['containerenv', '/run/.containerenv'],
  ] as const) {
    if (taken.has(destination)) continue;
    out.push({ destination, type: 'bind', source: `${paths.userdata}/${file}`, options: [] });
  }
  return out;
}

/** A container made by createContainer, with what running it needs. */
export interface CreatedContainer {
  record: ContainerRecord;
  paths: ContainerPaths;
  containers: ContainerStore;
  store: ImageStore;
  mapping: UserMapping;
  anonymousVolumes: string[];
  /** ends this process's hold on the image's layers */
  release(): Promise<void>;
}

/** The mapping a container runs with: the store's, or keep-id's. */
export function containerMapping(spec: ContainerSpec, reporter: Reporter): UserMapping {
  const baseMapping = currentMapping();
  if (baseMapping.warning) reporter.warn(baseMapping.warning);
  const own = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  return spec.userns === 'keep-id' ? keepIdMapping(baseMapping, own) : baseMapping;
}

/**
 * Finds (or has pulled) the image, builds the spec and creates the
 * container: its record, userdata files and a `created` state. The image's
 * layers stay held until `release()`.
 */
export async function createContainer(request: RunRequest, hooks: RunHooks, mark: (what: string) => void = () => {}): Promise<CreatedContainer> {
  const reporter = hooks.reporter ?? silentReporter;
  const baseMapping = currentMapping();
  if (baseMapping.warning) reporter.warn(baseMapping.warning);
  const storeMapping = { uids: baseMapping.uids, gids: baseMapping.gids };
  const store = await openStore({ mapping: storeMapping });
  // --rootfs: a directory instead of an image, with an empty config (no entrypoint, env or user)
  const image = request.rootfs ? undefined : await findOrPull(store, request, hooks);
  const config: ImageConfig = image
    ? parseImageConfig(await store.readBlob(image.configDigest), `image ${image.id}`)
    : { rootfs: { type: 'layers', diff_ids: [] } };
  if (request.rootfs) await checkRootfs(request.rootfs);
  mark(image ? `image ${image.id.slice(0, 12)} found` : 'rootfs checked');

  const own = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const mapping: UserMapping = request.userns === 'keep-id' ? keepIdMapping(baseMapping, own) : baseMapping;
  const id = newContainerId();
  const networkFlag: NetworkFlag = request.networkFlag ?? { kind: 'private' };
  const { mounts, anonymousVolumes } = await resolveMounts(request.mountEntries ?? [], store.root);
  const networkMode = await resolveNetworkMode(networkFlag);
  const spec = buildSpec(config, {
    ...request,
    id,
    mounts,
    network: { mode: networkMode, ports: request.publish ?? [], dns: request.dns ?? [], addHosts: request.addHosts ?? [] },
    // podman: the host's network comes with the host's name
    ...(networkMode === 'host' && request.hostname === undefined ? { hostname: hostname() } : {}),
    ...(image ? { layers: image.layers } : { rootfs: resolve(request.rootfs!) }),
    envFiles: [...(request.envFiles ?? []), ...readEnvFiles(request.envFilePaths ?? [])],
    ownIds: own,
  });

  const containers = new ContainerStore(store.root);
  const record: ContainerRecord = {
    Id: id,
    Name: request.name ?? '',
    Image: image?.id ?? '',
    ImageName: image?.names[0] ?? request.image,
    Created: new Date().toISOString(),
    State: 'created',
    Spec: spec,
    Run: {
      Remove: request.remove ?? false,
      Interactive: request.interactive ?? false,
      RestartPolicy: request.restart ?? { Name: 'no', MaximumRetryCount: 0 },
      StopSignal: request.stopSignal ?? config.config?.StopSignal ?? 'SIGTERM',
      StopTimeout: request.stopTimeout ?? 10,
      NetworkFlag: networkFlag,
      AnonymousVolumes: anonymousVolumes,
    },
  };
  // /etc/hosts, resolv.conf and hostname are bound from userdata/, known from the id alone: the
  // stored spec already has them
  const paths = containers.paths(id);
  spec.mounts.push(...etcMounts(paths, spec.mounts));
  // layers stay while this process (and so the container) lives, whatever rmi does meanwhile;
  // taken alongside the container's creation, not before it (each costs an fsync or two)
  const holding = image ? store.holdLayers(image.layers) : Promise.resolve(async () => {});
  const durable = !(request.remove && !request.detach);
  try {
    const created = await containers.create(record, { durable });
    mark(`container ${id.slice(0, 12)} created`);
    const files = await networkFiles(spec, created.record.Name, networkFlag);
    mark('network files made');
    await Promise.all([
      writeFile(`${paths.userdata}/hosts`, files.hosts),
      writeFile(`${paths.userdata}/resolv.conf`, files.resolvConf),
      writeFile(`${paths.userdata}/hostname`, files.hostname),
      writeFile(`${paths.userdata}/containerenv`, containerEnv(created.record, request.privileged ?? false)),
      writeState(containers, id, initialState(), { durable }),
    ]);
    const release = await holding;
    if (hooks.onCreated) await hooks.onCreated(id).catch(async (err) => {
      await release();
      throw err;
    });
    return { record: created.record, paths, containers, store, mapping, anonymousVolumes, release };
  } catch (err) {
    await (await holding)();
    throw err;
  }
}

/** Runs a container from `request.image` in the foreground; resolves to its exit status. */
export async function runImage(request: RunRequest, hooks: RunHooks): Promise<number> {
  const reporter = hooks.reporter ?? silentReporter;
  const started = performance.now();
  const mark = (what: string) => reporter.debug(`run: ${what} at ${(performance.now() - started).toFixed(1)} ms`);
  // refused before anything is created when no overlay can mount the root
  const overlay = request.rootfs ? undefined : planOverlay(process.env.TSBOX_OVERLAY, overlayHost());
  const created = await createContainer(request, hooks, mark);
  const { record, paths, containers, store, mapping } = created;
  const spec = record.Spec;
  const networkFlag = record.Run!.NetworkFlag;
  const durable = !request.remove;
  try {
    const seccomp = hooks.seccomp ? await hooks.seccomp(spec) : undefined;
    mark('helper starting');
    const userMode = spec.network.mode === 'slirp4netns' || spec.network.mode === 'pasta';
    let network: RunningNetworkInfo | undefined;
    const { code, helperError } = await runContainer(spec, {
      paths,
      layersDir: store.layout.layersDir,
      ...(overlay ? { overlay } : {}),
      mapping,
      tools: mapping.full ? toolsOrThrow() : undefined,
      remove: request.remove ?? false,
      // -t without -i: the command has a terminal but not our stdin, as podman's
      interactive: request.interactive ?? false,
      ...(seccomp ? { seccomp } : {}),
      ...(userMode
        ? {
            startNetwork: async (pid: number) => {
              const running = await startContainerNetwork(spec, networkFlag, pid, reporter);
              network = running.info;
              return running;
            },
          }
        : {}),
      reporter,
      // recorded before the command runs, so that ps, exec and stop see a foreground container
      // too, and never written while a --rm container's directory is being removed
      beforeStart: async (pid, helperPid) => {
        mark('container pid');
        const info = network;
        await writeState(containers, record.Id, {
          ...initialState(),
          Status: 'running',
          Pid: pid,
          MonitorPid: helperPid,
          MonitorStart: processStartTime(helperPid) ?? '',
          BootId: currentBootId(),
          StartedAt: new Date().toISOString(),
          ...(info ? { Network: { backend: info.backend, pid: info.pid, start: processStartTime(info.pid) ?? '', ports: info.ports } } : {}),
        }, { durable });
      },
    });
    mark(`container exited (${code})`);
    if (!request.remove) {
      await updateState(containers, record.Id, (state) => ({
        ...state,
        Status: 'exited',
        Pid: 0,
        ExitCode: code,
        FinishedAt: new Date().toISOString(),
        Network: undefined,
      }));
    }
    // 126/127 (and 125) as podman: the container's status, and the reason on one line
    if (helperError) throw new TsboxError(helperError, { exitCode: code });
    return code;
  } finally {
    if (request.remove) await removeAfterRun(containers, record, paths, reporter);
    if (request.remove) await removeAnonymousVolumes(created.anonymousVolumes, store.root, (m) => reporter.warn(m));
    await created.release();
  }
}

function toolsOrThrow() {
  const tools = findMappingTools();
  if ('missing' in tools) throw new TsboxError(`${tools.missing} not found`, { hint: 'install the uidmap package' });
  return tools;
}

/** Plain removal when we own everything (the helper never ran); else from inside the user namespace. */
async function removeTree(dir: string): Promise<void> {
  const { rm } = await import('node:fs/promises');
  try {
    await rm(dir, { recursive: true, force: true });
  } catch {
    await removeTreeInUserNamespace(dir);
  }
}

/**
 * --rm: the helper has removed the directory from inside the namespace
 * (--remove-after-exit); release the name, and finish what it left when it
 * failed before that.
 */
export async function removeAfterRun(containers: ContainerStore, record: ContainerRecord, paths: ContainerPaths, reporter: Reporter): Promise<void> {
  try {
    await containers.remove(record.Id, removeTree);
  } catch (err) {
    if (!(err instanceof ContainerNotFoundError)) reporter.warn(`removing container ${record.Id} (${paths.dir}): ${(err as Error).message}`);
    await containers.releaseName(record.Name, record.Id).catch(() => {});
  }
}

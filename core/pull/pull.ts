// Pulling an image: resolve the name, find a source (mirrors first), choose
// the platform from an index, fetch the config, then download and unpack the
// layers in parallel (each verified by digest while it streams, and by diff id
// once unpacked) and commit the image under the store lock.
//
// Runs inside the user namespace (the CLI re-executes itself there), so that
// unpacked files get the owners the image gives them.
import { TsboxError } from '../errors.js';
import { silentReporter, type Reporter } from '../progress.js';
import { formatReference, isShortName, parseReference, type Reference } from '../reference/index.js';
import { loadRegistriesConf, pullSources, resolveShortName, type PullSource, type RegistriesConf } from '../config/registries.js';
import { getCredentials } from '../config/auth.js';
import {
  ManifestUnknownError,
  RegistryClient,
  RegistryUnreachableError,
  hostPlatform,
  formatPlatform,
  parseManifest,
  selectPlatform,
  type Descriptor,
  type FetchedManifest,
  type ImageManifest,
  type Platform,
} from '../registry/index.js';
import { openStore, chainIds, type ImageRecord, type ImageStore, type StoreMapping } from '../store/index.js';
import { parseImageConfig } from './config.js';
import { fetchSmallBlob, pullLayer } from './layer.js';

export interface PullOptions {
  /** The platform to choose from a multi-platform index; default the host's. */
  platform?: Platform;
  /** false: allow plain http and unverified TLS for every registry (podman's --tls-verify=false). */
  tlsVerify?: boolean;
  reporter?: Reporter;
  /** The id mapping in force, recorded with (and checked against) the store. */
  mapping: StoreMapping;
  /** Path of tsbox-helper, for whiteouts, xattrs and fifos while unpacking. */
  helper: string;
  /** Whether unpacked files may be given their owners (inside the mapped user namespace). */
  canChown: boolean;
  /** Layers fetched at once. */
  parallelLayers?: number;
}

export interface PullResult {
  image: ImageRecord;
  /** The fully-qualified name the image was pulled as. */
  reference: string;
}

/** A manifest found at a source, with the client that found it (reused for blobs). */
interface Located {
  reference: Reference;
  source: PullSource;
  client: RegistryClient;
  fetched: FetchedManifest;
}

export async function pullImage(input: string, options: PullOptions): Promise<PullResult> {
  const reporter = options.reporter ?? silentReporter;
  const conf = loadRegistriesConf();
  const candidates = isShortName(input) ? resolveShortName(input, conf) : [parseReference(input)];
  const located = await locate(candidates, conf, options, reporter);
  try {
    const name = formatReference(located.reference);
    reporter.debug(`pulling ${name} from ${located.source.registry}/${located.source.repository}`);
    const store = await openStore({ mapping: options.mapping });
    const image = await pullManifest(located, store, options, reporter);
    return { image, reference: name };
  } finally {
    await located.client.close();
  }
}

/**
 * The first candidate name and source that has the manifest. For a short
 * name, a candidate that is unknown or unreachable moves on to the next;
 * the error reported is the most telling one seen.
 */
async function locate(candidates: Reference[], conf: RegistriesConf, options: PullOptions, reporter: Reporter): Promise<Located> {
  let firstError: unknown;
  let unknownError: unknown;
  for (const reference of candidates) {
    const sources = pullSources(reference, conf);
    for (const source of sources) {
      const credentials =
        getCredentials(source.registry, source.repository) ?? (source.mirror ? undefined : getCredentials(reference.registry, reference.repository));
      const client = new RegistryClient({
        registry: source.registry,
        insecure: source.insecure || options.tlsVerify === false,
        credentials,
        reporter,
      });
      const tagOrDigest = reference.digest ?? reference.tag ?? 'latest';
      try {
        const fetched = await client.getManifest(source.repository, tagOrDigest);
        return { reference, source, client, fetched };
      } catch (err) {
        await client.close();
        const where = source.mirror ? `mirror ${source.registry}/${source.repository}` : `${source.registry}/${source.repository}`;
        reporter.debug(`${formatReference(reference)}: ${where}: ${(err as Error).message}`);
        if (err instanceof ManifestUnknownError) unknownError ??= err;
        else firstError ??= err;
        // A mirror that fails falls through to the next source; so does any
        // source of a short-name candidate. A fully-qualified name's last
        // source gives its own error below.
        if (!(err instanceof ManifestUnknownError) && !(err instanceof RegistryUnreachableError) && !source.mirror) {
          if (candidates.length === 1) throw err;
        }
      }
    }
  }
  // "manifest unknown" from the real registry beats a mirror that was down.
  const err = unknownError ?? firstError;
  if (candidates.length > 1 && unknownError !== undefined) {
    const tried = candidates.map(formatReference).join(', ');
    throw new ManifestUnknownError(`${candidates[0] ? shortInput(candidates[0]) : ''}: image not found in any of the search registries (tried ${tried})`, {
      hint: 'check the name, or add the registry to unqualified-search-registries in registries.conf',
    });
  }
  throw err ?? new TsboxError('no registry to pull from');
}

function shortInput(ref: Reference): string {
  const repo = ref.repository.startsWith('library/') ? ref.repository.slice('library/'.length) : ref.repository;
  return ref.digest ? `${repo}@${ref.digest}` : `${repo}:${ref.tag ?? 'latest'}`;
}

async function pullManifest(located: Located, store: ImageStore, options: PullOptions, reporter: Reporter): Promise<ImageRecord> {
  const { client, source, reference } = located;
  const name = formatReference(reference);
  let parsed = parseManifest(located.fetched);
  let manifestBytes = located.fetched;
  const repoDigests = [`${reference.registry}/${reference.repository}@${located.fetched.digest}`];
  let indexBytes: FetchedManifest | undefined;
  const want = options.platform ?? hostPlatform();
  if (parsed.kind === 'index') {
    indexBytes = located.fetched;
    const chosen = selectPlatform(parsed, want);
    reporter.debug(`${name}: chose ${chosen.digest} for ${formatPlatform(want)}`);
    manifestBytes = await client.getManifest(source.repository, chosen.digest);
    parsed = parseManifest(manifestBytes);
    if (parsed.kind !== 'manifest') throw new TsboxError(`${name}: the index entry ${chosen.digest} is itself an index, which tsbox does not follow`);
    repoDigests.push(`${reference.registry}/${reference.repository}@${manifestBytes.digest}`);
  }
  const manifest: ImageManifest = parsed;

  const configBytes = await fetchSmallBlob(client, source.repository, manifest.config, `${name}: config`).catch((err: unknown) => {
    throw inImage(name, 'config', err);
  });
  const config = parseImageConfig(configBytes, `${name}: config ${manifest.config.digest}`);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new TsboxError(
      `${name}: the manifest lists ${manifest.layers.length} layers but the config has ${config.rootfs.diff_ids.length} diff ids: the image is corrupt`,
    );
  }
  // a single-platform image is taken as it is, with podman's warning when it is not what was asked for
  if (indexBytes === undefined && config.architecture && (config.architecture !== want.architecture || (config.os && config.os !== want.os))) {
    reporter.warn(`image platform (${config.os}/${config.architecture}) does not match the expected platform (${formatPlatform(want)})`);
  }

  const diffIds = config.rootfs.diff_ids;
  const chain = chainIds(diffIds);
  const imageId = manifest.config.digest.slice('sha256:'.length);

  // Keep our layers from being collected by a concurrent rmi until the image is committed.
  const release = await store.holdLayers(chain);
  try {
    for (let attempt = 0; ; attempt++) {
      await fetchLayers(store, client, source.repository, manifest.layers, diffIds, chain, options, reporter).catch((err: unknown) => {
        throw inImage(name, 'layer', err);
      });
      reporter.info('Writing manifest to image destination');
      await store.writeBlob(manifest.config.digest, configBytes);
      await store.writeBlob(manifestBytes.digest, manifestBytes.bytes);
      if (indexBytes) await store.writeBlob(indexBytes.digest, indexBytes.bytes);
      const record: ImageRecord = {
        id: imageId,
        digest: manifestBytes.digest,
        repoDigests,
        names: reference.tag && !reference.digest ? [name] : reference.tag ? [formatReference({ ...reference, digest: undefined })] : [],
        manifestDigest: manifestBytes.digest,
        configDigest: manifest.config.digest,
        layers: chain,
        diffIds,
        created: config.created ?? new Date(0).toISOString(),
        architecture: config.architecture ?? want.architecture,
        os: config.os ?? want.os,
        ...(config.variant ? { variant: config.variant } : {}),
        size: 0,
        pulledAt: new Date().toISOString(),
      };
      record.size = await sumLayerSizes(store, chain);
      try {
        const committed = await store.commitImage(record);
        // What killed pulls left behind (work dirs, downloads nobody adopted) goes now.
        await store.sweepTmp();
        return committed;
      } catch (err) {
        // A layer vanished between fetching and committing (an rmi of an image that shared it): fetch again, once.
        if (attempt === 0 && (err as Error).name === 'LayerNotFoundError') continue;
        throw err;
      }
    }
  } finally {
    await release();
  }
}

/**
 * A layer's or the config's failure said with the image it belongs to; what
 * the verifier calls a blob is said as the layer or config it is.
 */
function inImage(name: string, what: 'layer' | 'config', err: unknown): unknown {
  if (!(err instanceof TsboxError) || err.message.startsWith(`${name}:`)) return err;
  return new TsboxError(`${name}: ${err.message.replace(/^blob /, `${what} `)}`, { hint: err.hint, exitCode: err.exitCode, cause: err });
}

async function sumLayerSizes(store: ImageStore, chain: string[]): Promise<number> {
  let size = 0;
  for (const id of chain) size += (await store.readLayer(id)).size;
  return size;
}

/**
 * Fetches and unpacks the layers that are not in the store yet, at most
 * `parallelLayers` at once, each committed as soon as it and the layers
 * below it are (a layer's record names its parent).
 */
async function fetchLayers(
  store: ImageStore,
  client: RegistryClient,
  repository: string,
  layers: Descriptor[],
  diffIds: string[],
  chain: string[],
  options: PullOptions,
  reporter: Reporter,
): Promise<void> {
  const limit = Math.max(1, options.parallelLayers ?? 3);
  const committed: Promise<void>[] = [];
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < layers.length && errors.length === 0) {
      const i = next++;
      const below = i > 0 ? committed[i - 1]! : Promise.resolve();
      let resolveDone!: () => void;
      let rejectDone!: (e: unknown) => void;
      committed[i] = new Promise<void>((res, rej) => {
        resolveDone = res;
        rejectDone = rej;
      });
      committed[i]!.catch(() => {});
      try {
        await pullLayer({
          store,
          client,
          repository,
          descriptor: layers[i]!,
          diffId: diffIds[i]!,
          chainId: chain[i]!,
          parent: i > 0 ? chain[i - 1]! : null,
          below,
          helper: options.helper,
          canChown: options.canChown,
          reporter,
        });
        resolveDone();
      } catch (err) {
        errors.push(err);
        rejectDone(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, layers.length) }, worker));
  if (errors.length > 0) throw errors[0];
}


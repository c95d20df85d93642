// The image configuration (OCI image-spec config.json, which docker's v1
// image JSON matches): what tsbox reads of it is checked here once.
import { TsboxError } from '../errors.js';

export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
    ExposedPorts?: Record<string, object>;
    Volumes?: Record<string, object>;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: { created?: string; created_by?: string; empty_layer?: boolean; comment?: string; author?: string }[];
}

const DIFF_ID = /^sha256:[0-9a-f]{64}$/;

export class ImageConfigError extends TsboxError {}

export function parseImageConfig(bytes: Uint8Array, what: string): ImageConfig {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new ImageConfigError(`${what}: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null) throw new ImageConfigError(`${what}: not a JSON object`);
  const config = value as ImageConfig;
  const rootfs = config.rootfs as unknown;
  if (typeof rootfs !== 'object' || rootfs === null || !Array.isArray((rootfs as ImageConfig['rootfs']).diff_ids)) {
    throw new ImageConfigError(`${what}: rootfs.diff_ids is missing`);
  }
  for (const id of config.rootfs.diff_ids) {
    if (typeof id !== 'string' || !DIFF_ID.test(id)) throw new ImageConfigError(`${what}: invalid diff id ${JSON.stringify(id)}`);
  }
  for (const key of ['architecture', 'os', 'variant', 'created'] as const) {
    if (config[key] !== undefined && typeof config[key] !== 'string') throw new ImageConfigError(`${what}: ${key} is not a string`);
  }
  return config;
}

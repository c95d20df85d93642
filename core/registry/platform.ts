// Which entry of a manifest list to use. Pure functions: no I/O.
import { BadPlatformError, PlatformNotFoundError } from './errors.js';
import type { Descriptor, ImageIndex } from './manifest.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const NODE_ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips64el: 'mips64le',
};

// Spellings people type that mean a GOARCH name.
/** The operating systems and architectures images are made for (Go's GOOS and GOARCH, as the OCI spec names them). */
const KNOWN_OS = new Set(['linux', 'windows', 'darwin', 'freebsd', 'netbsd', 'openbsd', 'solaris', 'illumos', 'aix', 'android', 'dragonfly', 'plan9', 'js', 'wasip1']);
const KNOWN_ARCH = new Set(['amd64', 'arm64', 'arm', '386', 'ppc64le', 'ppc64', 's390x', 'riscv64', 'mips64le', 'mips64', 'mipsle', 'mips', 'loong64', 'wasm']);

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  i386: '386',
  armhf: 'arm',
  armel: 'arm',
};

/** The platform this process runs on, in OCI terms. */
export function hostPlatform(): Platform {
  const architecture = NODE_ARCH[process.arch] ?? process.arch;
  if (architecture === 'arm64') return { os: 'linux', architecture, variant: 'v8' };
  if (architecture === 'arm') {
    const version = (process.config.variables as unknown as Record<string, unknown>).arm_version;
    const variant = version === undefined || version === '' ? 'v7' : `v${String(version)}`;
    return { os: 'linux', architecture, variant };
  }
  return { os: 'linux', architecture };
}

/** `linux/arm64/v8`, `linux/amd64`, `arm64` (os linux) → a Platform. */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split('/');
  if (parts.length === 1 && parts[0]) parts.unshift('linux');
  const bad = (why: string) =>
    new BadPlatformError(`invalid platform ${JSON.stringify(text)}: ${why}`, { hint: 'use OS/ARCH[/VARIANT], e.g. linux/arm64/v8' });
  if (parts.length > 3) throw bad('too many parts');
  if (parts.some((p) => p === '' || !/^[A-Za-z0-9._-]+$/.test(p))) throw bad('empty or malformed part');
  const [os, arch, variant] = parts.map((p) => p.toLowerCase()) as [string, string, string | undefined];
  const architecture = ARCH_ALIASES[arch] ?? arch;
  if (!KNOWN_OS.has(os)) throw bad(`unknown operating system ${JSON.stringify(os)}`);
  if (!KNOWN_ARCH.has(architecture)) throw bad(`unknown architecture ${JSON.stringify(architecture)}`);
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

// arm64 images without a variant are v8; treat both sides the same way.
function normalVariant(architecture: string, variant: string | undefined): string | undefined {
  if (architecture === 'arm64' && (variant === undefined || variant === '')) return 'v8';
  return variant === '' ? undefined : variant;
}

/**
 * The index entry for `want`: same OS and architecture; among those, the exact
 * variant first, then an entry without a variant. amd64 ignores variants unless
 * one is asked for (every amd64 machine runs the baseline).
 */
export function selectPlatform(index: Pick<ImageIndex, 'manifests'>, want: Platform): Descriptor {
  const wantVariant = normalVariant(want.architecture, want.variant);
  const candidates = index.manifests.filter(
    (d) => d.platform && d.platform.os === want.os && d.platform.architecture === want.architecture,
  );
  const rank = (d: Descriptor): number => {
    const variant = normalVariant(d.platform!.architecture, d.platform!.variant);
    if (variant === wantVariant) return 0;
    if (variant === undefined) return 1;
    if (want.architecture === 'amd64' && wantVariant === undefined) return 2;
    return -1;
  };
  let best: Descriptor | undefined;
  let bestRank = Infinity;
  for (const d of candidates) {
    const r = rank(d);
    if (r >= 0 && r < bestRank) {
      best = d;
      bestRank = r;
    }
  }
  if (best) return best;

  const available = index.manifests
    .filter((d) => d.platform && d.platform.os !== 'unknown' && d.platform.architecture !== 'unknown')
    .map((d) => formatPlatform(d.platform!));
  const variantText = wantVariant === undefined ? '' : `, variant ${JSON.stringify(wantVariant)}`;
  throw new PlatformNotFoundError(
    `no image found in manifest list for architecture ${want.architecture}${variantText}, OS ${want.os}` +
      ` (available: ${available.length > 0 ? [...new Set(available)].join(', ') : 'none'})`,
  );
}

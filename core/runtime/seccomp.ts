// The container's seccomp program, compiled by core/security and cached in
// the runtime dir: compiling podman's default profile costs ~10 ms per run,
// reading the cached program ~0.1 ms. The cache key holds everything the
// program depends on: the profile (default: its own content, so a new tsbox
// with a changed profile never reads an old program; a file: its path, size
// and mtime), the architecture, the capabilities kept and the kernel release
// (minKernel rules).
import { promises as fs, statSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { runtimeDir } from '../paths.js';
import type { ContainerSpec } from './spec.js';

function stamp(path: string): string {
  try {
    const st = statSync(path);
    return `${path}:${st.size}:${st.mtimeMs}`;
  } catch {
    return `${path}:absent`;
  }
}

function profileStamp(profile: string, defaultProfile: () => unknown, sha256: (text: string) => string): string {
  if (profile !== 'default') return stamp(profile);
  return `default:${sha256(JSON.stringify(defaultProfile()))}`;
}

/** The compiled program for `spec`, or undefined when it runs unconfined. */
export async function containerSeccomp(spec: ContainerSpec): Promise<Buffer | undefined> {
  if (!spec.seccomp) return undefined;
  // node:crypto loaded here, not at start: exec mostly reads its container's kept program instead
  const [{ createHash }, { compileSeccomp, defaultSeccompProfile, loadSeccompProfile, nativeSeccompArch }] = await Promise.all([
    import('node:crypto'),
    import('../security/seccomp.js'),
  ]);
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const arch = nativeSeccompArch();
  const capabilities = spec.process.capabilities ?? [];
  const key = sha256([profileStamp(spec.seccomp.profile, defaultSeccompProfile, sha256), arch, capabilities.join(','), release()].join('\n'));
  const dir = join(runtimeDir(), 'tsbox', 'seccomp');
  const path = join(dir, `${key}.bpf`);
  try {
    return await fs.readFile(path);
  } catch {
    // not cached yet
  }
  const profile = spec.seccomp.profile === 'default' ? defaultSeccompProfile() : await loadSeccompProfile(spec.seccomp.profile);
  const program = compileSeccomp(profile, { arch, capabilities });
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = `${path}.${process.pid}`;
    await fs.writeFile(temp, program, { mode: 0o600 });
    await fs.rename(temp, path);
  } catch {
    // a cache we cannot write only costs the next run the compile
  }
  return program;
}

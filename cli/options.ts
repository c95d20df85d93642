// Option shapes several commands share, spelled as podman spells them.
import { Option, UsageError } from 'clipanion';

/**
 * `--tls-verify`, `--tls-verify=true|false`: clipanion's Boolean options
 * refuse `=false`, so it is a string that tolerates being given bare.
 */
export function tlsVerifyOption() {
  return Option.String('--tls-verify', { tolerateBoolean: true, description: 'Require HTTPS and verify certificates (default true)' });
}

/** The value of tlsVerifyOption(); undefined when not given. */
export function parseTlsVerify(value: string | boolean | undefined): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new UsageError(`invalid value ${JSON.stringify(value)} for --tls-verify: use true or false`);
}

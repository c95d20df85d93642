// Signals as users and images name them: SIGTERM, TERM, term, 15 (podman's
// ParseSignal). The image's StopSignal arrives in any of these forms too.
import { constants } from 'node:os';
import { TsboxError } from '../errors.js';

export interface Signal {
  number: number;
  /** the SIG-prefixed name, e.g. 'SIGTERM' ('SIGRTMIN+3', or the number for one without a name) */
  name: string;
}

const NAMED = constants.signals as Record<string, number>;
const SIGRTMIN = 34;
const SIGRTMAX = 64;

function nameOf(number: number): string {
  for (const [name, value] of Object.entries(NAMED)) if (value === number) return name;
  if (number >= SIGRTMIN && number <= SIGRTMAX) return number === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${number - SIGRTMIN}`;
  return String(number);
}

/** The signal `text` names; throws podman's `invalid signal: X` otherwise. */
export function parseSignal(text: string): Signal {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const number = Number(trimmed);
    if (number >= 1 && number <= SIGRTMAX) return { number, name: nameOf(number) };
  } else {
    const upper = trimmed.toUpperCase();
    const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
    const known = NAMED[name];
    if (known !== undefined) return { number: known, name };
    const rt = /^SIGRTM(IN|AX)([+-]\d+)?$/.exec(name);
    if (rt) {
      const number = (rt[1] === 'IN' ? SIGRTMIN : SIGRTMAX) + Number(rt[2] ?? 0);
      if (number >= SIGRTMIN && number <= SIGRTMAX) return { number, name: nameOf(number) };
    }
  }
  throw new TsboxError(`invalid signal: ${text}`, { hint: 'give a name such as SIGTERM or TERM, or a number' });
}

export const SIGKILL: Signal = { number: NAMED.SIGKILL!, name: 'SIGKILL' };

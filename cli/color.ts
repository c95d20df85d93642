// The one switch for colour: all styled output goes through styleFor(stream).
// Colour only on a terminal that says what it is (TERM set, not dumb, as
// supports-color decides), never with NO_COLOR (any non-empty value, per
// no-color.org) or --no-color; a pipe or a file gets plain text.
import kleur from 'kleur';
import { globalOptions } from './global-options.js';

export interface Style {
  bold(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
}

const plain: Style = { bold: (t) => t, red: (t) => t, yellow: (t) => t, dim: (t) => t };

/** Whether `stream` may be written colour to. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (globalOptions.noColor || (env.NO_COLOR ?? '') !== '' || !env.TERM || env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** Styles for text written to `stream`: kleur's on a terminal, the identity elsewhere. */
export function styleFor(stream: { isTTY?: boolean }): Style {
  if (!colorEnabled(stream)) return plain;
  // kleur decides once, at import, from stdout alone; we have decided per stream.
  kleur.enabled = true;
  return { bold: (t) => kleur.bold(t), red: (t) => kleur.red(t), yellow: (t) => kleur.yellow(t), dim: (t) => kleur.dim(t) };
}

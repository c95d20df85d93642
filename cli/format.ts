// Output formats shared by the listing and inspecting commands, as podman
// prints them: tab-aligned tables, `--format json`, and a subset of Go
// templates (`{{.Field}}`, `{{.A.B}}`, `{{json .Field}}`, `{{json .}}`, a
// leading `table` for a header row, `\t` and `\n` escapes).
import { TsboxError } from '../core/errors.js';

/** Go's text/tabwriter as podman configures it (minwidth 12, padding 2); the last column is not padded. */
export function renderTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i < row.length - 1) widths[i] = Math.max(widths[i] ?? 0, 12, cell.length + 2);
    });
  }
  return rows.map((row) => row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]!) : cell)).join('').trimEnd() + '\n').join('');
}

/** go-units HumanDuration: "About an hour", "2 days". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** "2 hours ago", as podman's CREATED column. */
export function timeAgo(date: Date, now = Date.now()): string {
  return `${humanDuration(Math.max(0, now - date.getTime()))} ago`;
}

/** go-units HumanSizeWithPrecision(size, 3), decimal units: "7.8 MB", "5.87 MB", "512 B". */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Number(value.toPrecision(3))} ${units[unit]}`;
}

/**
 * go-units HumanSize (precision 4, no space), as podman's stats prints sizes:
 * "1.077MB", "16.7GB", "0B".
 */
export function unitsHumanSize(bytes: number): string {
  return unitsSize(bytes, 1000, ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB']);
}

/** go-units BytesSize (binary units, precision 4, no space): "1.027MiB". */
export function unitsBytesSize(bytes: number): string {
  return unitsSize(bytes, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB']);
}

function unitsSize(bytes: number, base: number, units: string[]): string {
  let value = bytes;
  let unit = 0;
  while (value >= base && unit < units.length - 1) {
    value /= base;
    unit++;
  }
  // Go's %.4g: four significant digits, trailing zeros dropped
  return `${Number(value.toPrecision(4))}${units[unit]}`;
}

/** Go's time.Time String(): "2024-01-02 03:04:05 +0000 UTC". */
export function goTimeString(date: Date): string {
  return `${date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} +0000 UTC`;
}

/** A value printed the way Go's text/template prints it: slices as [a b], maps as map[k:v]. */
export function goValue(value: unknown): string {
  if (value === null || value === undefined) return '<no value>';
  if (Array.isArray(value)) return `[${value.map(goValue).join(' ')}]`;
  if (value instanceof Date) return goTimeString(value);
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
    return `map[${entries.map(([k, v]) => `${k}:${goValue(v)}`).join(' ')}]`;
  }
  return String(value);
}

type Piece = { text: string } | { path: string[]; json: boolean };

export class BadFormatError extends TsboxError {}

function parseTemplate(template: string): Piece[] {
  const pieces: Piece[] = [];
  const action = /\{\{-?\s*(.*?)\s*-?\}\}/g;
  let last = 0;
  for (let m = action.exec(template); m; m = action.exec(template)) {
    if (m.index > last) pieces.push({ text: template.slice(last, m.index) });
    last = m.index + m[0].length;
    const inner = m[1]!.match(/^(json\s+)?(\.[A-Za-z0-9_.]*)$/);
    if (!inner) throw new BadFormatError(`template: unsupported action {{${m[1]}}}: use {{.Field}} or {{json .Field}}`);
    const path = inner[2] === '.' ? [] : inner[2]!.slice(1).split('.');
    pieces.push({ path, json: inner[1] !== undefined });
  }
  if (last < template.length) pieces.push({ text: template.slice(last) });
  return pieces;
}

function lookup(item: Record<string, unknown>, path: string[]): unknown {
  let value: unknown = item;
  for (const [i, key] of path.entries()) {
    if (value === null || typeof value !== 'object' || !(key in (value as object))) {
      throw new BadFormatError(`template: can't evaluate field ${path.slice(0, i + 1).join('.')}`);
    }
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * Renders `items` through a Go-style template, one line per item. With a
 * leading `table`, a header row comes first (names from `headers`, else the
 * field name in capitals) and the columns are aligned as podman's tables are.
 */
export function formatTemplate(template: string, items: Record<string, unknown>[], headers: Record<string, string> = {}): string {
  let body = template.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const table = /^table\s/.test(body);
  if (table) body = body.replace(/^table\s+/, '');
  const pieces = parseTemplate(body);
  const render = (item: Record<string, unknown>) =>
    pieces
      .map((p) => ('text' in p ? p.text : p.json ? JSON.stringify(lookup(item, p.path) ?? null) : goValue(lookup(item, p.path))))
      .join('');
  if (!table) return items.map((item) => `${render(item)}\n`).join('');
  const header = pieces
    .map((p) => ('text' in p ? p.text : headers[p.path.join('.')] ?? p.path.join('.').toUpperCase()))
    .join('');
  return renderTable([header, ...items.map(render)].map((line) => line.split('\t')));
}

/** `--format json`: an indented array, as podman prints it. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 4)}\n`;
}

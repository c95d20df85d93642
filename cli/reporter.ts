// The terminal side of core/progress.ts's Reporter, printing on stderr as
// podman does (stdout is for the result, e.g. the image id). On a terminal:
// one live line per layer, redrawn in place at most ~10 times a second.
// Otherwise (a pipe, a log file): one line per layer when it is done.
// With -q: nothing but warnings.
import type { Reporter } from '../core/progress.js';
import { globalOptions } from './global-options.js';
import { styleFor } from './color.js';

export interface ReporterOptions {
  quiet?: boolean;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** default: whether stderr is a terminal */
  live?: boolean;
  /** for tests: the clock, in ms */
  now?: () => number;
}

export interface CliReporter extends Reporter {
  /** Draws the final state and stops redrawing; call once the work is over. */
  close(): void;
}

interface Item {
  id: string;
  what: string;
  total: number | undefined;
  done: number;
  started: number;
  note: string | undefined;
}

const REDRAW_INTERVAL_MS = 100;
const BAR_WIDTH = 30;

/** podman's (mpb's) binary units with one decimal: 12.3MiB. */
export function formatBinarySize(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (bytes < 1024) return `${bytes}b`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)}${units[unit]}`;
}

function progressBar(done: number, total: number): string {
  const filled = Math.min(BAR_WIDTH, Math.floor((done / Math.max(total, 1)) * BAR_WIDTH));
  if (filled >= BAR_WIDTH) return `[${'='.repeat(BAR_WIDTH)}]`;
  return `[${'='.repeat(filled)}>${' '.repeat(BAR_WIDTH - filled - 1)}]`;
}

/** The line for a finished item, as podman prints it. */
function finishedText(item: Item): string {
  return /already exists/i.test(item.note ?? '') ? 'skipped: already exists' : 'done';
}

/** A log line prefix in logrus's text format: `WARN[0003]`, seconds since start. */
function logPrefix(level: string): string {
  return `${level}[${String(Math.floor(process.uptime())).padStart(4, '0')}]`;
}

export function createReporter(options: ReporterOptions): CliReporter {
  const out = options.stderr;
  const quiet = options.quiet ?? false;
  const live = !quiet && (options.live ?? out.isTTY === true);
  const now = options.now ?? Date.now;
  // logrus colours the level on a terminal; cli/color.ts decides
  const style = styleFor(out);
  const items = new Map<string, Item>();
  let drawnLines = 0;
  let lastDraw = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const lineFor = (item: Item): string => {
    const head = `Copying ${item.what} ${item.id}`;
    if (item.note !== undefined) {
      return live && item.total !== undefined && finishedText(item) === 'done'
        ? `${head} ${progressBar(1, 1)} ${formatBinarySize(item.total)} / ${formatBinarySize(item.total)} ${finishedText(item)}`
        : `${head} ${finishedText(item)}`;
    }
    const seconds = Math.max((now() - item.started) / 1000, 0.001);
    const rate = `${formatBinarySize(Math.round(item.done / seconds))}/s`;
    if (item.total === undefined) return `${head} ${formatBinarySize(item.done)} ${rate}`;
    return `${head} ${progressBar(item.done, item.total)} ${formatBinarySize(item.done)} / ${formatBinarySize(item.total)} ${rate}`;
  };

  // A live line must not wrap: moving up counts lines, and a wrapped one is two
  // (the lines above it would be drawn again below). The digest goes first.
  const fit = (line: string): string => {
    const width = out.columns ?? 0;
    if (width <= 0 || line.length < width) return line;
    return line.replace(/(Copying \S+ )(\S+)/, (_, head: string, id: string) => `${head}${id.slice(0, Math.max(12, id.length - (line.length - width + 1)))}`).slice(0, width - 1);
  };

  // Moves up over the lines drawn last time and draws them all again.
  const draw = () => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    lastDraw = now();
    let text = drawnLines > 0 ? `\x1b[${drawnLines}A` : '';
    for (const item of items.values()) text += `\r\x1b[2K${fit(lineFor(item))}\n`;
    drawnLines = items.size;
    out.write(text);
  };

  const drawSoon = () => {
    if (timer || closed) return;
    const wait = REDRAW_INTERVAL_MS - (now() - lastDraw);
    if (wait <= 0) draw();
    else {
      timer = setTimeout(draw, wait);
      timer.unref();
    }
  };

  // A message goes above the live lines, which are then drawn again below it.
  const message = (text: string) => {
    if (live && drawnLines > 0) {
      out.write(`\x1b[${drawnLines}A\r\x1b[J${text}\n`);
      drawnLines = 0;
      draw();
    } else {
      out.write(`${text}\n`);
    }
  };

  return {
    start(id, what, total) {
      if (quiet) return;
      items.set(id, { id, what, total, done: 0, started: now(), note: undefined });
      if (live) draw();
    },
    progress(id, done) {
      const item = items.get(id);
      if (!item || !live) return;
      item.done = done;
      drawSoon();
    },
    finish(id, note) {
      if (quiet) return;
      let item = items.get(id);
      if (!item) {
        item = { id, what: 'blob', total: undefined, done: 0, started: now(), note };
        items.set(id, item);
      }
      item.note = note;
      if (live) draw();
      else out.write(`${lineFor(item)}\n`);
    },
    info(text) {
      if (!quiet && globalOptions.logLevel !== 'error') message(text);
    },
    warn(text) {
      if (globalOptions.logLevel !== 'error') message(`${style.yellow(logPrefix('WARN'))} ${text}`);
    },
    debug(text) {
      if (globalOptions.logLevel === 'debug') message(`${style.dim(logPrefix('DEBU'))} ${text}`);
    },
    close() {
      if (closed) return;
      if (live && items.size > 0) draw();
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}

// The one interface through which core/ reports progress and warnings; the CLI
// decides how (terminal bars, plain lines, nothing with -q).

export interface Reporter {
  /** A layer or blob starts: `id` is a short digest, `total` its size in bytes when known. */
  start(id: string, what: string, total?: number): void;
  /** More bytes of `id` have arrived (absolute count). */
  progress(id: string, done: number): void;
  /** `id` is done; `note` says how ("Already exists", "Download complete"). */
  finish(id: string, note: string): void;
  /** A one-line message for the user (e.g. "Writing manifest to image destination"). */
  info(message: string): void;
  /** A warning printed on stderr as `WARN[0000] message`. */
  warn(message: string): void;
  /** Debug text shown with --log-level debug. */
  debug(message: string): void;
}

export const silentReporter: Reporter = {
  start() {},
  progress() {},
  finish() {},
  info() {},
  warn() {},
  debug() {},
};

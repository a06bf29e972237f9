/**
 * The bot's log: one line per event on stdout, filtered by `log.level`.
 *
 * A {@link Log} is called like the plain `(line) => void` every module is
 * given (that is an info line) and has a method per level for the lines
 * that are more or less than that. A line below the level is not written;
 * secrets are taken out of every line written (`redact`).
 */

export const LEVELS = ["debug", "info", "warn", "error"] as const;
export type Level = (typeof LEVELS)[number];

export interface Log {
  /** an info line */
  (line: string): void;
  debug(line: string): void;
  info(line: string): void;
  warn(line: string): void;
  error(line: string): void;
  /** whether lines of `level` are written */
  enabled(level: Level): boolean;
}

export interface LogOptions {
  level: Level;
  /** where lines go; default stdout */
  write?: (text: string) => void;
  /** takes secrets out of a line; may be replaced later with {@link Log} `setRedact` */
  redact?: (line: string) => string;
  now?: () => Date;
}

/**
 * A log writing `ISO-time [level ]line`: info lines carry no level word
 * (they are most of the log), the others do (`warn chain: …`).
 */
export function createLog(o: LogOptions): Log & { setRedact(r: (line: string) => string): void; setLevel(l: Level): void } {
  let min = LEVELS.indexOf(o.level);
  let redact = o.redact ?? ((l: string) => l);
  const write = o.write ?? ((t: string) => void process.stdout.write(t));
  const now = o.now ?? (() => new Date());
  const at = (level: Level) => (line: string) => {
    if (LEVELS.indexOf(level) < min) return;
    write(`${now().toISOString()} ${level === "info" ? "" : `${level} `}${redact(line)}\n`);
  };
  const info = at("info");
  return Object.assign((line: string) => info(line), {
    debug: at("debug"),
    info,
    warn: at("warn"),
    error: at("error"),
    enabled: (level: Level) => LEVELS.indexOf(level) >= min,
    setRedact(r: (line: string) => string) {
      redact = r;
    },
    setLevel(l: Level) {
      min = LEVELS.indexOf(l);
    },
  });
}

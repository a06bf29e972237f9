/**
 * The bot's log (pino): one JSON object per line on stdout, or lines for
 * people in a terminal, filtered by `log.level`.
 *
 * A {@link Log} is called like the plain `(line) => void` every module is
 * given (that is an info line) and has a method per level for the lines
 * that are more or less than that. A line below the level is not written;
 * secrets are taken out of every line written (`redact`).
 *
 * Modules write sentences ("bridge: !abc:server: invited @carol:server
 * (proposal #3)"); the JSON line carries the sentence as `msg` and, read
 * from it, the fields an operator filters on: `component` (the word before
 * the first colon), `room`, `proposal` (the first `#N`) and `tx` (the first
 * transaction hash). `time` is ISO 8601, `level` a word.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import { prettyFactory } from "pino-pretty";

export const LEVELS = ["debug", "info", "warn", "error"] as const;
export type Level = (typeof LEVELS)[number];

export const FORMATS = ["auto", "json", "pretty"] as const;
/** `auto`: pretty when stdout is a terminal, JSON otherwise (a container, systemd, a pipe) */
export type Format = (typeof FORMATS)[number];

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

/**
 * Writes `line` as a warning when `log` has levels (the bot's log), else as
 * its one kind of line (a component's plain log port, a test's). For what an
 * operator must see with `log.level: warn`: a failed kick or notice, a
 * refused transaction, a read that will be retried.
 */
export function warn(log: ((line: string) => void) | undefined, line: string): void {
  const w = (log as Partial<Log> | undefined)?.warn;
  if (typeof w === "function") w(line);
  else log?.(line);
}

export interface LogOptions {
  level: Level;
  /** default auto */
  format?: Format;
  /** where lines go; default stdout, written synchronously (nothing lost at exit) */
  write?: (text: string) => void;
  /** takes secrets out of a line; may be replaced later with {@link Log} `setRedact` */
  redact?: (line: string) => string;
  now?: () => Date;
  /** whether stdout is a terminal (for `auto`); default process.stdout.isTTY */
  tty?: boolean;
  /** fields on every line (a worker's name) */
  base?: Record<string, string>;
}

export interface LineFields {
  component?: string;
  room?: string;
  proposal?: number;
  tx?: string;
}

const COMPONENT = /^([a-z][\w-]*):\s/;
// A room id (!opaque:server) as the spec allows its localpart; the server may carry a port.
const ROOM = /![^\s:!,;()"'<>]+:[A-Za-z0-9.-]+(?::\d+)?/;
const PROPOSAL = /#(\d{1,9})\b/;
const TX = /\b0x[0-9a-fA-F]{64}\b/;

/** The fields of a log line, read from its words. */
export function lineFields(line: string): LineFields {
  const f: LineFields = {};
  const component = COMPONENT.exec(line)?.[1];
  if (component) f.component = component;
  const room = ROOM.exec(line)?.[0];
  if (room) f.room = room;
  const proposal = PROPOSAL.exec(line)?.[1];
  if (proposal) f.proposal = Number(proposal);
  const tx = TX.exec(line)?.[0];
  if (tx) f.tx = tx;
  return f;
}

export type ConfigurableLog = Log & {
  setRedact(r: (line: string) => string): void;
  setLevel(l: Level): void;
  setFormat(f: Format): void;
  /** adds fields to every later line */
  setBase(base: Record<string, string>): void;
};

export function createLog(o: LogOptions): ConfigurableLog {
  let redact = o.redact ?? ((l: string) => l);
  const now = o.now ?? (() => new Date());
  let format: Format = o.format ?? "auto";
  let base = o.base ?? {};
  let level: Level = o.level;
  const make = (): Logger => {
    const pretty = format === "pretty" || (format === "auto" && (o.tty ?? process.stdout.isTTY));
    const out: DestinationStream = o.write ? { write: o.write } : pino.destination({ dest: 1, sync: true });
    // Pretty lines are made from the JSON one in place, synchronously, as the JSON lines are written.
    const prettify = pretty
      ? prettyFactory({
          colorize: !o.write && process.stdout.isTTY,
          translateTime: "SYS:yyyy-mm-dd HH:MM:ss.l",
          ignore: "pid,hostname,component,room,proposal,tx",
        })
      : undefined;
    const stream: DestinationStream = prettify ? { write: (line: string) => out.write(prettify(line)) } : out;
    return pino(
      {
        level,
        base,
        messageKey: "msg",
        timestamp: () => `,"time":"${now().toISOString()}"`,
        formatters: { level: (label) => ({ level: label }) },
      },
      stream,
    );
  };
  let logger = make();
  const at = (l: Level) => (line: string) => {
    if (!logger.isLevelEnabled(l)) return;
    const text = redact(line);
    logger[l](lineFields(text), text);
  };
  const info = at("info");
  return Object.assign((line: string) => info(line), {
    debug: at("debug"),
    info,
    warn: at("warn"),
    error: at("error"),
    enabled: (l: Level) => logger.isLevelEnabled(l),
    setRedact(r: (line: string) => string) {
      redact = r;
    },
    setLevel(l: Level) {
      level = l;
      logger.level = l;
    },
    setFormat(f: Format) {
      format = f;
      logger = make();
    },
    setBase(b: Record<string, string>) {
      base = { ...base, ...b };
      logger = make();
    },
  });
}

/**
 * A JSON log line as the old plain form, `ISO-time [level ]msg` (info lines
 * without their level): what people read, and what tests wait for. Other
 * text comes back as it is.
 */
export function plainLine(line: string): string {
  if (!line.startsWith("{")) return line;
  try {
    const j = JSON.parse(line) as { time?: unknown; level?: unknown; msg?: unknown };
    if (typeof j.msg !== "string") return line;
    const level = typeof j.level === "string" && j.level !== "info" ? `${j.level} ` : "";
    return `${typeof j.time === "string" ? `${j.time} ` : ""}${level}${j.msg}`;
  } catch {
    return line;
  }
}

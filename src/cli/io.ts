// What a command may touch of the outside world, passed in so command tests run in-process
// against a temporary directory and capture exactly what was printed.
import type { Readable, Writable } from 'node:stream';
import pc from 'picocolors';

export interface CliIo {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /**
   * Ends the process at once (a Ctrl-C in the middle of a rotation). Only a real process has
   * it; commands run in-process by tests do not, and keep their host's signal handling.
   */
  exit?: (code: number) => void;
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    // Made on first use: a stream over a pipe or file loads ~2 ms of Node's modules at start-up,
    // and most commands never read their input.
    get stdin() {
      return process.stdin;
    },
    env: process.env,
    cwd: process.cwd(),
    exit: (code) => process.exit(code),
  };
}

/** Colours only on a terminal, and never when NO_COLOR is set. */
export function colors(io: CliIo) {
  const enabled = Boolean(io.stdout.isTTY) && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
  return pc.createColors(enabled);
}

export function print(io: CliIo, text = ''): void {
  io.stdout.write(`${text}\n`);
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Pads columns for a plain-text table; `widthOf` ignores ANSI colour codes. */
export function formatTable(headers: string[], rows: string[][]): string {
  // eslint-disable-next-line no-control-regex
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = headers.map((h, i) =>
    rows.reduce((w, r) => Math.max(w, visible(r[i] ?? '')), h.length),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === cells.length - 1 ? c : c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - visible(c))),
      )
      .join('  ')
      .trimEnd();
  const out = [line(headers)];
  for (const r of rows) out.push(line(r));
  return out.join('\n');
}

/** Commander reducer for repeatable options (`--secret A --secret B`). */
export function collectOption(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

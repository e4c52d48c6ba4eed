// Reads one secret value from an operator: a file (--from-file), a hidden prompt on a
// terminal, or piped stdin. Never from argv, and never echoed: the prompt goes to stderr and
// the terminal is put in raw mode so typed characters are not displayed.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { RotorError } from '../core/errors.js';
import type { CliIo } from './io.js';

export interface SecretInputOptions {
  /** Read the value from this file (relative to the working directory) instead of stdin. */
  fromFile?: string;
  /** Shown on stderr before a hidden terminal prompt, e.g. "New value for SMTP_PASSWORD: ". */
  prompt: string;
}

/** Removes exactly one trailing line break (`\n` or `\r\n`), as editors and `echo` add one. */
function stripOneNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

function missing(message: string): RotorError {
  return new RotorError('ERR_ROTOR_VALUE_MISSING', message);
}

async function readFromFile(io: CliIo, file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    throw new RotorError(
      'ERR_ROTOR_VALUE_MISSING',
      `cannot read --from-file ${file}${typeof code === 'string' ? ` (${code})` : ''}`,
      {
        cause,
        details: { file },
      },
    );
  }
  const value = stripOneNewline(text);
  if (value.length === 0) throw missing(`--from-file ${file} is empty: nothing to store`);
  return value;
}

async function readFromPipe(io: CliIo): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer));
  const buffer = Buffer.concat(chunks);
  const value = stripOneNewline(buffer.toString('utf8'));
  buffer.fill(0);
  if (value.length === 0)
    throw missing(
      'no value given: pipe it on stdin, use --from-file, or run in a terminal to be prompted',
    );
  return value;
}

/**
 * Prompts on a terminal without echo. Enter finishes; Backspace deletes one character; Ctrl-U
 * clears the line; Ctrl-C cancels (RotorError); Ctrl-D on an empty line cancels. Terminal
 * escape sequences (arrow keys) are ignored rather than becoming part of the value.
 */
function promptHidden(io: CliIo, prompt: string): Promise<string> {
  const { stdin, stderr } = io;
  if (typeof stdin.setRawMode !== 'function') {
    return Promise.reject(
      missing('cannot hide input on this terminal: pipe the value on stdin or use --from-file'),
    );
  }
  const setRawMode = stdin.setRawMode.bind(stdin);
  const wasRaw = Boolean((stdin as { isRaw?: boolean }).isRaw);
  return new Promise<string>((resolvePromise, reject) => {
    const decoder = new StringDecoder('utf8');
    let chars: string[] = [];
    // 0: normal; 1: saw ESC; 2: inside a CSI sequence (ESC [ … final byte).
    let escape = 0;
    const finish = (error?: RotorError) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onError);
      setRawMode(wasRaw);
      stdin.pause();
      stderr.write('\n');
      const value = chars.join('');
      chars = [];
      if (error) reject(error);
      else if (value.length === 0)
        reject(missing('no value entered at the prompt: nothing was stored'));
      else resolvePromise(value);
    };
    const onData = (chunk: Buffer | string) => {
      const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
      for (const ch of text) {
        if (escape === 1) {
          escape = ch === '[' || ch === 'O' ? 2 : 0;
          continue;
        }
        if (escape === 2) {
          if (ch >= '@' && ch <= '~') escape = 0;
          continue;
        }
        switch (ch) {
          case '\r':
          case '\n':
            finish();
            return;
          case '\u0003':
            finish(missing('cancelled at the prompt (Ctrl-C): nothing was stored'));
            return;
          case '\u0004':
            if (chars.length === 0) {
              finish(missing('cancelled at the prompt (Ctrl-D): nothing was stored'));
              return;
            }
            finish();
            return;
          case '\u007f':
          case '\b':
            chars.pop();
            break;
          case '\u0015':
            chars = [];
            break;
          case '\u001b':
            escape = 1;
            break;
          default:
            // Other control characters are not part of any value a person types.
            if (ch >= ' ') chars.push(ch);
        }
      }
    };
    const onEnd = () => finish();
    const onError = (error: Error) =>
      finish(
        new RotorError('ERR_ROTOR_VALUE_MISSING', `cannot read the terminal: ${error.message}`, {
          cause: error,
        }),
      );
    setRawMode(true);
    stderr.write(prompt);
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('error', onError);
    stdin.resume();
  });
}

/** The most a piped answer to line prompts may hold: passwords, not files. */
const MAX_PIPED_LINES_BYTES = 64 * 1024;

/**
 * Answers to several prompts, one line each (a password and its confirmation): on a terminal
 * each prompt is shown and read hidden; from a pipe (`printf 'pw\npw\n' | rotor operator add`)
 * stdin is split into lines (LF or CRLF ends) and line i answers prompt i. Fewer lines than
 * prompts give a shorter array; more lines than prompts are refused, as the extra line would
 * otherwise be silently dropped or glued onto a value.
 *
 * @example
 * const [password, again] = await readLineInputs(io, ['Password: ', 'Again: ']);
 */
export async function readLineInputs(io: CliIo, prompts: readonly string[]): Promise<string[]> {
  if (io.stdin.isTTY) {
    const answers: string[] = [];
    for (const prompt of prompts) answers.push(await promptHidden(io, prompt));
    return answers;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of io.stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    size += buffer.length;
    chunks.push(buffer);
    if (size > MAX_PIPED_LINES_BYTES) {
      for (const c of chunks) c.fill(0);
      throw new RotorError(
        'ERR_ROTOR_VALUE_INVALID',
        `more than ${MAX_PIPED_LINES_BYTES} bytes on stdin: expected ${prompts.length} line(s)`,
      );
    }
  }
  const buffer = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  const text = buffer.toString('utf8');
  buffer.fill(0);
  const lines = text.split('\n');
  // A final line break ends the last line; it does not start another one.
  if (lines.at(-1) === '') lines.pop();
  const answers = lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (answers.length === 0 || (answers.length === 1 && answers[0] === '')) {
    throw missing(
      'no value given: pipe it on stdin (one line per prompt), use a file option, or run in a terminal to be prompted',
    );
  }
  if (answers.length > prompts.length) {
    throw new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `stdin has ${answers.length} lines but ${prompts.length} were expected (one per prompt): nothing was changed`,
    );
  }
  return answers;
}

/**
 * Reads a secret value: from `fromFile` if given, else by a hidden prompt when stdin is a
 * terminal, else all of stdin. One trailing newline is stripped; an empty value is
 * ERR_ROTOR_VALUE_MISSING. The value is never echoed or logged.
 *
 * @example
 * const value = await readSecretInput(ctx.io, { fromFile: options.fromFile, prompt: `New value for ${name}: ` });
 */
export async function readSecretInput(
  io: CliIo,
  options: { fromFile?: string; prompt: string },
): Promise<string> {
  if (options.fromFile !== undefined) return readFromFile(io, options.fromFile);
  if (io.stdin.isTTY) return promptHidden(io, options.prompt);
  return readFromPipe(io);
}

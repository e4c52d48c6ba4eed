// Which store a process opens: ROTOR_STORE_URL (or the older ROTOR_DATABASE_URL), read from the
// environment only, never from rotor.yaml. The PostgreSQL password comes from the URL, PGPASSWORD
// or ROTOR_STORE_PASSWORD_FILE, and is never part of `display`, which messages use.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RotorError } from '../errors.js';

export type StoreTarget =
  | { kind: 'sqlite'; file: string; display: string }
  | { kind: 'postgres'; url: string; password?: string; display: string };
export type PostgresTarget = Extract<StoreTarget, { kind: 'postgres' }>;

/** `postgres://user:secret@host/db` → `postgres://user@host/db`: a URL safe to print. */
export function redactStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'an unparsable store URL';
  }
}

function readPasswordFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new RotorError(
      'ERR_ROTOR_STORE_URL_INVALID',
      `cannot read ROTOR_STORE_PASSWORD_FILE ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: error },
    );
  }
}

/** Parses a `postgres://` or `postgresql://` URL into a target; `name` is the variable it came from. */
export function postgresTarget(
  url: string,
  env: NodeJS.ProcessEnv,
  name = 'ROTOR_STORE_URL',
): PostgresTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RotorError('ERR_ROTOR_STORE_URL_INVALID', `${name} is not a valid URL`);
  }
  if (!parsed.hostname || parsed.pathname.length < 2) {
    throw new RotorError(
      'ERR_ROTOR_STORE_URL_INVALID',
      `${name} must name a host and a database: postgres://user@host:5432/rotor`,
    );
  }
  const fromFile = env.ROTOR_STORE_PASSWORD_FILE;
  const password = parsed.password
    ? decodeURIComponent(parsed.password)
    : fromFile
      ? readPasswordFile(fromFile)
      : env.PGPASSWORD;
  return {
    kind: 'postgres',
    url,
    ...(password ? { password } : {}),
    display: redactStoreUrl(url),
  };
}

/** The store named by the environment, or the SQLite file in the state directory. */
export function resolveStoreTarget(stateDir: string, env: NodeJS.ProcessEnv): StoreTarget {
  const name = env.ROTOR_STORE_URL ? 'ROTOR_STORE_URL' : 'ROTOR_DATABASE_URL';
  const url = env.ROTOR_STORE_URL || env.ROTOR_DATABASE_URL;
  if (!url) {
    const file = join(stateDir, 'rotor.db');
    return { kind: 'sqlite', file, display: file };
  }
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    return { kind: 'sqlite', file, display: file };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return postgresTarget(url, env, name);
  throw new RotorError(
    'ERR_ROTOR_STORE_URL_INVALID',
    `${name} names a kind of store Rotor cannot open: use postgres://user@host/db or sqlite:<file>`,
  );
}

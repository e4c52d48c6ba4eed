// Loads an optional peer dependency of the SDK (pg, mysql2, ioredis, better-sqlite3) on first
// use, so an app installs only the drivers of the helpers it calls (@rotor/sdk declares them as
// optional peers). A missing peer becomes one RotorError naming the package and how to add it,
// instead of Node's "Cannot find package" from deep inside the SDK.
import { RotorError } from './errors.js';

/**
 * Runs `load` (an `import()` of `name` or of one of its subpaths) and maps "package not
 * installed" to ERR_ROTOR_SDK_PEER_MISSING. `feature` says who needed it, e.g. "rotor/pg".
 *
 * @example
 * const { default: pg } = await importPeer('pg', 'rotor/pg', () => import('pg'));
 */
export async function importPeer<T>(
  name: string,
  feature: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (cause) {
    if (!isPackageMissing(cause, name)) throw cause;
    throw new RotorError(
      'ERR_ROTOR_SDK_PEER_MISSING',
      `${feature} needs the package "${name}", an optional peer dependency of the Rotor SDK that is not installed: run npm install ${name}`,
      { cause, details: { package: name } },
    );
  }
}

/**
 * True when the error says `name` itself cannot be found. A module missing inside an installed
 * peer (a broken install) keeps its own error: installing the peer would not fix that.
 */
function isPackageMissing(error: unknown, name: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  // ESM import(): ERR_MODULE_NOT_FOUND "Cannot find package 'pg' imported from …";
  // CommonJS require(): MODULE_NOT_FOUND "Cannot find module 'mysql2/promise'".
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  const firstLine = error.message.split('\n', 1)[0] ?? '';
  return firstLine.includes(`'${name}'`) || firstLine.includes(`'${name}/`);
}

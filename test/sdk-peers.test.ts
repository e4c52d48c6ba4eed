// The SDK's optional peers: importPeer names a missing package (and only that case), and the
// lazily built token stores open their driver on first use, once, and never after close().
// test/packaging.test.ts shows the same from an installed @rotor/sdk without its peers.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isRotorError } from '../src/core/errors.js';
import { importPeer } from '../src/core/import-peer.js';
import { lazyTokenStore } from '../src/core/sessions/stores/lazy-store.js';
import { createMemoryTokenStore } from '../src/core/sessions/stores/memory-store.js';
import type { TokenStore } from '../src/core/sessions/stores/token-store.js';

const dir = mkdtempSync(join(tmpdir(), 'rotor-peers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A package `broken` that is installed but imports a module it lacks. */
function brokenPackage(): string {
  const root = join(dir, 'node_modules', 'broken');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'broken', main: 'index.js' }));
  writeFileSync(join(root, 'index.js'), "require('./missing-part.js');\n");
  return join(dir, 'app.js');
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('importPeer', () => {
  it('names a package import() cannot find, and how to install it', async () => {
    // A variable specifier: TypeScript does not resolve it, so the missing package type-checks.
    const missing: string = 'rotor-no-such-peer';
    const error = await rejection(importPeer(missing, 'rotor/pg', () => import(missing)));
    expect(isRotorError(error, 'ERR_ROTOR_SDK_PEER_MISSING')).toBe(true);
    expect((error as Error).message).toBe(
      'rotor/pg needs the package "rotor-no-such-peer", an optional peer dependency of the Rotor SDK that is not installed: run npm install rotor-no-such-peer',
    );
    expect((error as { details: unknown }).details).toEqual({ package: 'rotor-no-such-peer' });
  });

  it('names a package require() cannot find, subpath imports included', async () => {
    const require = createRequire(join(dir, 'app.js'));
    const error = await rejection(
      importPeer('rotor-no-such-peer', 'rotor/mysql', async () =>
        require('rotor-no-such-peer/promise'),
      ),
    );
    expect(isRotorError(error, 'ERR_ROTOR_SDK_PEER_MISSING')).toBe(true);
    expect((error as Error).message).toContain('npm install rotor-no-such-peer');
  });

  it('keeps the original error when the peer is installed but broken', async () => {
    const require = createRequire(brokenPackage());
    const error = await rejection(importPeer('broken', 'rotor/pg', async () => require('broken')));
    expect(isRotorError(error)).toBe(false);
    expect((error as { code: string }).code).toBe('MODULE_NOT_FOUND');
    expect((error as Error).message).toContain('missing-part.js');
  });

  it('keeps the original error when another package is missing', async () => {
    const error = await rejection(
      importPeer('pg', 'rotor/pg', () => import(pathToFileURL(join(dir, 'nope.js')).href)),
    );
    expect(isRotorError(error)).toBe(false);
  });

  it('returns the module when it loads', async () => {
    const { default: pg } = await importPeer('pg', 'rotor/pg', () => import('pg'));
    expect(typeof pg.Pool).toBe('function');
  });
});

describe('lazyTokenStore', () => {
  it('opens the store once, on first use, and closes what it opened', async () => {
    let opened = 0;
    let closed = 0;
    const store = lazyTokenStore('memory', async () => {
      opened += 1;
      const real = createMemoryTokenStore();
      return { ...real, close: async () => void (closed += 1) } satisfies TokenStore;
    });
    expect(opened).toBe(0);
    await Promise.all([store.init(), store.passwordResetRequired('alice')]);
    expect(
      await store.createFamily({
        familyId: 'f',
        userId: 'alice',
        jti: 'j',
        now: 1,
        absoluteExpiresAt: 10,
      }),
    ).toEqual({ created: true });
    expect((await store.getFamily('f'))?.latestJti).toBe('j');
    expect(opened).toBe(1);
    await store.close();
    await store.close();
    expect(closed).toBe(1);
    const error = await rejection(store.init());
    expect(isRotorError(error, 'ERR_ROTOR_TOKENS_STORE_UNREACHABLE')).toBe(true);
    expect(opened).toBe(1);
  });

  it('opens nothing when closed before any use', async () => {
    let opened = 0;
    const store = lazyTokenStore('postgres', async () => {
      opened += 1;
      return createMemoryTokenStore();
    });
    await store.close();
    await rejection(store.init());
    expect(opened).toBe(0);
  });

  it('tries again after a failed open (the driver installed meanwhile, say)', async () => {
    let attempts = 0;
    const store = lazyTokenStore('redis', async () => {
      attempts += 1;
      if (attempts === 1) throw new Error('first open fails');
      return createMemoryTokenStore();
    });
    expect(((await rejection(store.init())) as Error).message).toBe('first open fails');
    await store.init();
    expect(store.kind).toBe('redis');
    expect(attempts).toBe(2);
    await store.close();
  });
});

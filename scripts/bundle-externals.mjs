// What every esbuild bundle of Rotor's sources leaves to node_modules (scripts/build.mjs for the
// CLI, test/setup/global-setup.ts for the processes tests start).

/**
 * Packages a bundle loads from node_modules: native addons, optional native companions that
 * packages require inside a try (pg's pg-native), and the CommonJS packages the sources import
 * dynamically. esbuild turns such an import into a chunk whose only export is `default`, so
 * `const { IAMClient } = await import('@aws-sdk/client-iam')` found nothing in the bundle; Node
 * itself gives CommonJS named exports (test/cli-bundle-interop.test.ts).
 */
export const EXTERNAL = ['better-sqlite3', 'pg-native', '@aws-sdk/*', 'ioredis', 'pg', 'mysql2'];

/** Bundled CommonJS packages call require() for Node's built-ins: an ES module bundle defines it. */
export const REQUIRE_BANNER =
  "import { createRequire as __rotorRequire } from 'node:module'; const require = __rotorRequire(import.meta.url);";

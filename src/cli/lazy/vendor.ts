// Loads a package's CommonJS bundle from dist/cli/vendor/ (made by scripts/build.mjs), next to the
// CLI chunk this code is bundled into; synchronous, so the callers' APIs stay synchronous.
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

export function loadVendor<T>(name: 'zod' | 'yaml' | 'pino'): T {
  return requireHere(`./vendor/${name}.cjs`) as T;
}

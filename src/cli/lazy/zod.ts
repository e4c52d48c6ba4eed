// What `zod` resolves to inside the CLI bundle (scripts/build.mjs): a deferred `z`, so that zod
// loads only when a schema is used, not when the modules that define schemas load.
import type { z as Z } from 'zod';
import { deferredNamespace } from './deferred-namespace.js';
import { loadVendor } from './vendor.js';

export const z: typeof Z = deferredNamespace(() => loadVendor<{ z: typeof Z }>('zod').z);

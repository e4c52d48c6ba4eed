// What `yaml` resolves to inside the CLI bundle (scripts/build.mjs): the parser loads when
// rotor.yaml is parsed, not when load-policy.ts loads (a cached policy needs no parser).
import type * as Yaml from 'yaml';
import { loadVendor } from './vendor.js';

let yaml: typeof Yaml | undefined;
const real = (): typeof Yaml => (yaml ??= loadVendor<typeof Yaml>('yaml'));

export const parseDocument: typeof Yaml.parseDocument = (...args: unknown[]) =>
  (real().parseDocument as (...a: unknown[]) => never)(...args);

export const isNode = ((node: unknown) => real().isNode(node)) as typeof Yaml.isNode;

/** `new LineCounter()` returns yaml's own instance. */
export const LineCounter = function LineCounter() {
  return new (real().LineCounter)();
} as unknown as typeof Yaml.LineCounter;

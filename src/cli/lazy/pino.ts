// What `pino` resolves to inside the CLI bundle (scripts/build.mjs): pino loads when a logger is
// created, and the CLI creates its logger on first use (most commands never log).
import type * as Pino from 'pino';
import { loadVendor } from './vendor.js';

type PinoFn = typeof Pino.pino;
let loaded: PinoFn | undefined;
const real = (): PinoFn => (loaded ??= loadVendor<{ pino: PinoFn }>('pino').pino);

export const pino = Object.assign(
  (...args: unknown[]) => (real() as (...a: unknown[]) => unknown)(...args),
  {
    destination: (...args: unknown[]) =>
      (real().destination as (...a: unknown[]) => unknown)(...args),
  },
) as unknown as PinoFn;

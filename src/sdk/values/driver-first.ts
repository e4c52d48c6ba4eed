// rotor/pg and rotor/mysql load their driver (an optional peer of the SDK) before the first value
// is applied, so a missing driver rejects ready() and the first query with
// ERR_ROTOR_SDK_PEER_MISSING, and `apply` can use the driver synchronously.
import type { ValueSource } from './value-source.js';

/** `source`, with `loadDriver` awaited before every load (it keeps what it loaded itself). */
export function driverFirst(source: ValueSource, loadDriver: () => Promise<void>): ValueSource {
  return {
    async load(secret) {
      await loadDriver();
      return source.load(secret);
    },
    watch: (secret, onChange) => source.watch(secret, onChange),
    close: () => source.close(),
  };
}

// The CLI's logger, created on first use: most commands never log, and creating pino's logger
// (and loading pino) costs a command's start-up for nothing.
import type { Logger } from 'pino';

export function lazyLogger(create: () => Logger): Logger {
  let real: Logger | undefined;
  const get = () => (real ??= create());
  return new Proxy({} as Logger, {
    get(_target, prop) {
      const target = get();
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
    set: (_target, prop, value) => Reflect.set(get(), prop, value),
    has: (_target, prop) => Reflect.has(get(), prop),
    getPrototypeOf: () => Reflect.getPrototypeOf(get()),
  });
}

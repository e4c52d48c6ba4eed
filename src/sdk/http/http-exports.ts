// What rotor/express and rotor/fastify both export from the shared HTTP layer, listed once.
export type { BearerAuthOptions, HttpReply, RejectionEvent } from './bearer-auth.js';
export {
  refreshCookie,
  type RefreshCookieOptions,
  type RefreshHandlerOptions,
} from './refresh-exchange.js';

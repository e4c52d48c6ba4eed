// The request log of `rotor serve`: one access line per request, as pino-http writes it, instead
// of Fastify's two (`incoming request` when it arrives, `request completed` when it is answered).
// Every request paid for two synchronous pino lines; the completed line now carries the request
// (method, redacted URL, address: see log-redaction.ts), the status and the response time, so
// nothing is lost at `info`. The arrival line is still written at `debug` and below, for tracing
// requests that never complete.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export class AccessLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return;
    const line = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}

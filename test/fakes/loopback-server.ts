// The plumbing the local provider fakes share: an HTTP server on 127.0.0.1 on a free port, each
// request's body read whole before the fake answers, a stop that does not wait for keep-alive
// connections, JSON answers, and a queue of injected failures (429/5xx before anything else).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export abstract class LoopbackServer {
  /** http://127.0.0.1:PORT once started. */
  endpoint = '';
  private server?: Server;

  async start(): Promise<string> {
    const server = createServer((req, res) => void this.receive(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.endpoint;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Answers one request; `body` is the whole request body as UTF-8. */
  protected abstract handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void>;

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    await this.handle(req, res, Buffer.concat(chunks).toString('utf8'));
  }
}

/** Answers `status` with `body` as JSON (an empty body when undefined). */
export function replyJson(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

export interface InjectedFailure {
  status: number;
  retryAfter?: string;
}

/** Failures a test queues for the next requests, in order, before the fake does anything else. */
export class FailureQueue {
  private readonly queued: InjectedFailure[] = [];

  add(count: number, status: number, retryAfter?: string): void {
    for (let i = 0; i < count; i++)
      this.queued.push({ status, ...(retryAfter === undefined ? {} : { retryAfter }) });
  }

  next(): InjectedFailure | undefined {
    return this.queued.shift();
  }
}

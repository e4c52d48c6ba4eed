// The request log at `info` (what `rotor serve` writes by default): one access line per request
// carrying method, redacted URL, status, response time and request id; the arrival line only at
// `debug` and below. Logging must still be off when requestLogging is false.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRotor } from '../src/core/context.js';
import { ROTATORS } from '../src/rotators/registry.js';
import { buildApp } from '../src/server/app.js';
import { createServerFixture, type ServerFixture } from './server-fixture.js';

let f: ServerFixture;
beforeAll(async () => {
  f = await createServerFixture();
});
afterAll(async () => {
  await f?.close();
});

interface Line {
  msg: string;
  level: number;
  requestId?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
  responseTime?: number;
}

async function logOf(level: string, requestLogging?: boolean) {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  const logger = pino({ level }, sink);
  const rotor = createRotor({
    cwd: f.project.dir,
    env: f.project.env,
    rotators: ROTATORS,
    clock: f.project.clock,
    logger,
  });
  const app = await buildApp({
    rotor,
    ...(requestLogging === undefined ? {} : { requestLogging }),
  });
  try {
    const read = await app.inject({
      method: 'GET',
      url: '/v1/secrets/JWT_ACCESS_SECRET/value?env=production',
      headers: { authorization: `Bearer ${f.tokens.app}` },
    });
    expect(read.statusCode).toBe(200);
    const bad = await app.inject({
      method: 'GET',
      url: '/v1/secrets/JWT_ACCESS_SECRET/value?env=nowhere&token=rtr_0123456789abcdef_x',
      headers: { authorization: `Bearer ${f.tokens.app}` },
    });
    expect(bad.statusCode).toBe(400);
    return {
      lines,
      ids: [String(read.headers['x-request-id']), String(bad.headers['x-request-id'])],
      value: read.json<{ value: string }>().value,
    };
  } finally {
    await app.close();
    await rotor.close();
  }
}

describe('access log', () => {
  test('at info: exactly one line per request, with method, redacted URL, status and time', async () => {
    const { lines, ids, value } = await logOf('info');
    for (const [id, status, url] of [
      [ids[0], 200, '/v1/secrets/JWT_ACCESS_SECRET/value?env=production'],
      [ids[1], 400, '/v1/secrets/JWT_ACCESS_SECRET/value?env=nowhere&token=[redacted]'],
    ] as const) {
      const mine = lines.filter(
        (l) =>
          l.requestId === id && (l.msg === 'request completed' || l.msg === 'incoming request'),
      );
      expect(mine, JSON.stringify(lines)).toHaveLength(1);
      expect(mine[0]).toMatchObject({
        msg: 'request completed',
        req: { method: 'GET', url },
        res: { statusCode: status },
      });
      expect(typeof mine[0]!.responseTime).toBe('number');
    }
    for (const l of lines) expect(JSON.stringify(l)).not.toContain(value);
  });

  test('at debug: the arrival line too', async () => {
    const { lines, ids } = await logOf('debug');
    const arrived = lines.filter((l) => l.requestId === ids[0] && l.msg === 'incoming request');
    expect(arrived).toHaveLength(1);
    expect(arrived[0]!.req?.url).toBe('/v1/secrets/JWT_ACCESS_SECRET/value?env=production');
  });

  test('requestLogging false: no access lines at all', async () => {
    const { lines } = await logOf('trace', false);
    expect(
      lines.filter((l) => l.msg === 'request completed' || l.msg === 'incoming request'),
    ).toEqual([]);
  });
});

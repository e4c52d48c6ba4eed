// Live delivery to apps as a `buildApp` plugin: /v1/events (SSE) and consumer heartbeats
// (docs/apps.md); one change feed per server fans out to every connection.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { listConsumers } from '../../core/consumers/list-consumers.js';
import { consumerOwnedByOther, pruneConsumers } from '../../core/consumers/record-heartbeat.js';
import { RotorError } from '../../core/errors.js';
import { pollingChangeSource } from '../../core/store/polling-changes.js';
import { globToRegExp } from '../../core/tokens/token-grant.js';
import type { ServerPluginOptions } from '../app.js';
import { positiveIntegerSetting } from '../env-setting.js';
import { principalOf } from '../auth/api-auth.js';
import { parsePart } from '../route-def.js';
import { createChangeFeed, type ChangeFeed } from './change-feed.js';
import { consumersQuery, eventsQuery, heartbeatBody } from './event-routes.js';
import { createHeartbeatBatcher } from './heartbeat-batcher.js';
import {
  createSseHub,
  eventId,
  formatEvent,
  parseEventId,
  snapshotOf,
  type SseHub,
} from './sse-hub.js';

export interface EventsPluginOptions {
  /** How often the store is polled for changes, in ms (default 100). */
  pollMs?: number;
  /** Comment lines on every stream this often, in ms (default 15 s). */
  heartbeatMs?: number;
  /** The reconnect delay suggested to clients (`retry:`), in ms (default 1 s). */
  retryMs?: number;
  /** Consumers not seen for this long are forgotten, in ms (default 7 days; checked hourly). */
  forgetConsumersAfterMs?: number;
  /** Open streams allowed per API token (default ROTOR_STREAMS_PER_TOKEN, else 10); more get 429. */
  maxStreamsPerToken?: number;
}

export const DEFAULT_STREAMS_PER_TOKEN = 10;

/** The per-token stream cap: the option, else ROTOR_STREAMS_PER_TOKEN, else 10. */
export function streamsPerToken(option: number | undefined, env: NodeJS.ProcessEnv): number {
  const variable = 'ROTOR_STREAMS_PER_TOKEN';
  return positiveIntegerSetting({ variable, option, env, fallback: DEFAULT_STREAMS_PER_TOKEN });
}

/** setTimeout's longest delay; a later expiry is re-checked after this long. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function matcher(globs: string[] | undefined): (name: string) => boolean {
  if (!globs) return () => true;
  const res = globs.map(globToRegExp);
  return (name) => res.some((r) => r.test(name));
}

/**
 * @example
 * const app = await buildApp({ rotor, plugins: [createEventsPlugin()] });
 */
export function createEventsPlugin(
  options: EventsPluginOptions = {},
): FastifyPluginAsync<ServerPluginOptions> {
  return async (app: FastifyInstance, { deps }: ServerPluginOptions) => {
    // buildApp registers the default events plugin after those it was given: one of them already did.
    if (app.hasRoute({ method: 'GET', url: '/v1/events' })) return;
    const { rotor, clock } = deps;
    const maxStreams = streamsPerToken(options.maxStreamsPerToken, rotor.env);
    let feed: ChangeFeed | undefined;
    let hub: SseHub | undefined;
    let starting: Promise<{ feed: ChangeFeed; hub: SseHub }> | undefined;
    const batcher = createHeartbeatBatcher(() => rotor.store(), clock);

    function started(): Promise<{ feed: ChangeFeed; hub: SseHub }> {
      starting ??= (async () => {
        const store = await rotor.store();
        const f = createChangeFeed({
          source: store.changes ?? pollingChangeSource(store),
          ...(options.pollMs ? { pollMs: options.pollMs } : {}),
          onError: (error) => app.log.warn({ err: error }, 'event feed: store poll failed'),
        });
        await f.start();
        const h = createSseHub({
          epoch: f.epoch,
          heartbeatMs: options.heartbeatMs ?? 15_000,
          now: () => clock.now(),
        });
        // Before the commit's rotation events go out: streams of tokens revoked (or expired) end.
        f.onStoreChange(() => endInvalidStreams(f, h));
        f.subscribe((events) => h.publish(events));
        feed = f;
        hub = h;
        return { feed: f, hub: h };
      })();
      starting.catch(() => (starting = undefined));
      return starting;
    }

    async function endInvalidStreams(f: ChangeFeed, h: SseHub): Promise<void> {
      const ids = h.tokenIds();
      if (ids.length === 0) return;
      const states = await f.tokenStates(ids);
      const now = clock.now();
      const gone = new Set(
        states
          .filter((t) => t.revoked_at !== null || (t.expires_at !== null && t.expires_at <= now))
          .map((t) => t.id),
      );
      if (gone.size === 0) return;
      const ended = h.closeTokens(gone);
      app.log.info(
        { tokens: [...gone], streams: ended },
        'event streams ended: token revoked or expired',
      );
    }

    /** Ends the token's streams when it expires (timers are re-armed for far-off expiries). */
    function endAtExpiry(h: SseHub, tokenId: string, expiresAt: number | null): () => void {
      if (expiresAt === null) return () => undefined;
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        const wait = expiresAt - clock.now();
        if (wait <= 0) {
          timer = undefined;
          h.closeTokens(new Set([tokenId]));
          return;
        }
        timer = setTimeout(arm, Math.min(wait, MAX_TIMER_MS));
        timer.unref();
      };
      arm();
      return () => clearTimeout(timer);
    }

    // Every process start picks a new consumer id by default: forget the long-gone ones.
    const forgetAfter = options.forgetConsumersAfterMs ?? 7 * 86_400_000;
    const pruner = setInterval(() => {
      void rotor
        .store()
        .then((store) => pruneConsumers(store, clock, forgetAfter))
        .catch((error: unknown) => app.log.warn({ err: error }, 'could not prune old consumers'));
    }, 3_600_000);
    pruner.unref();

    app.addHook('onReady', async () => {
      await started().catch((error: unknown) =>
        app.log.warn({ err: error }, 'event feed not started yet; it starts with the first stream'),
      );
    });
    // Streams never end by themselves: end them before the server waits for its connections.
    app.addHook('preClose', async () => {
      clearInterval(pruner);
      hub?.closeAll();
      feed?.close();
      await batcher.close();
    });

    app.get(
      '/v1/events',
      { config: { permission: 'secret.read' } },
      async (request: FastifyRequest, reply: FastifyReply) => {
        const query = parsePart('query', eventsQuery, request.query);
        const principal = principalOf(request);
        const { feed: f, hub: h } = await started();
        // Read on the feed's connection, after every await: nothing can slip in before the count.
        const token = (await f.tokenStates([principal.id]))[0];
        if (!token || token.revoked_at !== null)
          throw new RotorError(
            'ERR_ROTOR_API_TOKEN_REVOKED',
            `API token ${principal.id} ("${principal.name}") was revoked`,
            { details: { tokenId: principal.id } },
          );
        if (h.countFor(principal.id) >= maxStreams) {
          throw new RotorError(
            'ERR_ROTOR_API_STREAM_LIMIT',
            `token "${principal.name}" already has ${maxStreams} open event streams (the limit per token): close one first`,
            {
              details: { tokenId: principal.id, limit: maxStreams },
            },
          );
        }
        const secretOk = matcher(query.secrets);
        const envOk = matcher(query.env);
        const allows = (secret: string, environment: string) =>
          secretOk(secret) && envOk(environment) && principal.grant.allows(secret, environment);

        const lastId = request.headers['last-event-id'];
        const resumeFrom = parseEventId(f.epoch, typeof lastId === 'string' ? lastId : undefined);
        const replay = resumeFrom === undefined ? undefined : f.since(resumeFrom);

        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          ...(reply.getHeaders() as Record<string, string>),
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          // The connection belongs to the stream: when the stream ends, so does the connection
          // (a kept-alive idle socket would hold up the server's shutdown).
          connection: 'close',
          'x-accel-buffering': 'no',
        });
        res.socket?.setNoDelay(true);
        let out = `retry: ${options.retryMs ?? 1_000}\n\n`;
        if (replay) {
          for (const e of replay)
            if (allows(e.event.secret, e.event.environment))
              out += formatEvent('rotation', eventId(f.epoch, e.seq), e.event);
        } else {
          // A first connection, or a resume this server cannot replay (it restarted, or the client
          // was away too long): the state as it is now, which the client compares with what it holds.
          out += formatEvent('snapshot', eventId(f.epoch, f.lastSeq()), {
            versions: snapshotOf(f.states(), allows),
          });
        }
        res.write(out);
        const removeStream = h.add({
          res,
          allows,
          tokenId: principal.id,
          expiresAt: token.expires_at,
        });
        const stopTimer = endAtExpiry(h, principal.id, token.expires_at);
        const remove = () => {
          stopTimer();
          removeStream();
        };
        request.raw.on('close', remove);
        res.on('close', remove);
      },
    );

    app.post(
      '/v1/consumers/heartbeat',
      { config: { permission: 'secret.read' } },
      async (request: FastifyRequest) => {
        const body = parsePart('body', heartbeatBody, request.body);
        const principal = principalOf(request);
        for (const h of body.holds) {
          if (!principal.grant.allows(h.secret, h.environment)) {
            throw new RotorError(
              'ERR_ROTOR_API_FORBIDDEN',
              `token "${principal.name}" may not report ${h.secret} in ${h.environment} (not in its grant)`,
              { details: { field: 'body.holds' } },
            );
          }
        }
        const store = await rotor.store();
        if (
          await store.guard(() =>
            consumerOwnedByOther(store, body.consumerId, principal.id, clock.now()),
          )
        ) {
          throw new RotorError(
            'ERR_ROTOR_API_FORBIDDEN',
            `consumer id "${body.consumerId}" is live under another API token: pick another consumer id`,
            { details: { field: 'body.consumerId' } },
          );
        }
        await batcher.record({
          consumerId: body.consumerId,
          app: body.app,
          tokenId: principal.id,
          ...(body.intervalMs ? { intervalMs: body.intervalMs } : {}),
          holds: body.holds,
        });
        const states = new Map<string, string | null>();
        if (feed)
          for (const s of feed.states()) states.set(`${s.secret}\0${s.environment}`, s.versionId);
        return {
          consumerId: body.consumerId,
          holds: body.holds.map((h) => {
            const current = states.get(`${h.secret}\0${h.environment}`) ?? null;
            return {
              ...h,
              currentVersion: current,
              behind: current !== null && current !== h.version,
            };
          }),
        };
      },
    );

    app.get(
      '/v1/consumers',
      { config: { permission: 'inventory.read' } },
      async (request: FastifyRequest) => {
        const query = parsePart('query', consumersQuery, request.query);
        const store = await rotor.store();
        const consumers = await store.guard(() =>
          listConsumers(
            store.db,
            {
              ...(query.secret ? { secret: query.secret } : {}),
              ...(query.env ? { environment: query.env } : {}),
              ...(query.live === 'true' ? { liveOnly: true } : {}),
            },
            clock.now(),
          ),
        );
        return {
          consumers,
          live: consumers.filter((c) => c.live).length,
          behind: consumers.filter((c) => c.live && c.holds.some((h) => h.behind)).length,
          connections: hub?.size() ?? 0,
        };
      },
    );
  };
}

/** The plugin with its defaults, for `buildApp({ plugins: [eventsPlugin] })`. */
export const eventsPlugin = createEventsPlugin();

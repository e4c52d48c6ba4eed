// One API route as data: method, URL, the permission it needs, and zod schemas for params, query
// and body. The same table registers the routes, validates every request, generates the OpenAPI
// document and drives the authorization-matrix test, so a route cannot skip any of them.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Rotor } from '../core/context.js';
import type { Clock } from '../core/clock.js';
import { RotorError } from '../core/errors.js';
import type { RotationEngine } from '../core/rotation/rotation-engine.js';
import type { Permission } from './auth/roles.js';
import type { SecretReadPath } from './read-path/secret-read-path.js';

export interface ServerDeps {
  rotor: Rotor;
  engine: RotationEngine;
  clock: Clock;
  /** The secret-value read path (opened with the store on first use). */
  reads(): Promise<SecretReadPath>;
}

export interface RouteInput<P, Q, B> {
  request: FastifyRequest;
  reply: FastifyReply;
  params: P;
  query: Q;
  body: B;
  deps: ServerDeps;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface ApiRoute<P = any, Q = any, B = any> {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  /** `public`: no token needed (health, OpenAPI). */
  permission: Permission | 'public';
  summary: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** Status of a successful answer (default 200). */
  status?: number;
  handler(input: RouteInput<P, Q, B>): Promise<unknown>;
}

/** What the OpenAPI document and the authorization matrix need of a route, including plugins' routes. */
export type RouteDoc = Pick<
  ApiRoute,
  'method' | 'url' | 'permission' | 'summary' | 'params' | 'query' | 'body' | 'status'
>;

/** Declares a route with its types inferred from its schemas. */
export function defineRoute<P = undefined, Q = undefined, B = undefined>(
  route: ApiRoute<P, Q, B>,
): ApiRoute<P, Q, B> {
  return route;
}

const EMPTY = z.strictObject({});

function describeIssue(where: string, issue: z.core.$ZodIssue): string {
  const path = [where, ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys')
    return issue.keys.map((k) => `${path}.${k}: unknown field`).join('; ');
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message))
    return `${path}: required`;
  return `${path}: ${issue.message}`;
}

/** Parses one part of a request against its schema, or a 400 naming the first bad fields. */
export function parsePart<T>(
  where: 'params' | 'query' | 'body',
  schema: z.ZodType<T>,
  value: unknown,
): T {
  // No body at all is an empty object; a JSON `null` body is a wrong type like any other.
  const result = schema.safeParse(value === undefined ? {} : value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 5);
  throw new RotorError(
    'ERR_ROTOR_API_VALIDATION',
    `invalid ${where}: ${issues.map((i) => describeIssue(where, i)).join('; ')}`,
    {
      details: {
        fields: issues
          .flatMap((i) =>
            i.code === 'unrecognized_keys'
              ? i.keys.map((k) => [where, ...i.path.map(String), k].join('.'))
              : [[where, ...i.path.map(String)].join('.')],
          )
          .join(','),
      },
    },
  );
}

/** A Fastify plugin registering `routes` with validation; authentication is the app's preHandler. */
export function routesPlugin(routes: readonly ApiRoute[], deps: ServerDeps): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    for (const route of routes) {
      app.route({
        method: route.method,
        url: route.url,
        config: { permission: route.permission },
        handler: async (request, reply) => {
          const params: unknown = parsePart('params', route.params ?? EMPTY, request.params);
          const query: unknown = parsePart('query', route.query ?? EMPTY, request.query);
          const body: unknown = parsePart('body', route.body ?? EMPTY, request.body);
          const result = await route.handler({ request, reply, params, query, body, deps });
          if (reply.sent) return reply;
          // A status the handler chose (a failed rotation's 502) stands; otherwise the route's.
          if (route.status !== undefined && reply.statusCode === 200) reply.code(route.status);
          return result;
        },
      });
    }
  };
}

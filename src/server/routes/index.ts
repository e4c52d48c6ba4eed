// The route table: every route the API serves. A new area is a file in this folder and one entry
// here; registration, validation, OpenAPI and the authorization-matrix test all read this list.
import { EVENT_ROUTES } from '../events/event-routes.js';
import { openApiDocument } from '../openapi.js';
import { defineRoute, type ApiRoute } from '../route-def.js';
import { auditRoutes } from './audit.js';
import { checkRoutes } from './check.js';
import { emergencyRoutes } from './emergency.js';
import { healthRoutes } from './health.js';
import { importRoutes } from './import.js';
import { inventoryRoutes } from './inventory.js';
import { resumeRoutes } from './resume.js';
import { retireRoutes } from './retire.js';
import { rotateRoutes } from './rotate.js';
import { secretRoutes } from './secrets.js';
import { sessionRoutes } from './sessions.js';
import { tokenRoutes } from './tokens.js';

export const OPENAPI_URL = '/v1/openapi.json';

let document: Record<string, unknown> | undefined;

const openApiRoute = defineRoute({
  method: 'GET',
  url: OPENAPI_URL,
  permission: 'public',
  summary: 'this OpenAPI 3.1 document',
  async handler() {
    document ??= openApiDocument([...API_ROUTES, ...EVENT_ROUTES]);
    return document;
  },
});

export const API_ROUTES: readonly ApiRoute[] = [
  openApiRoute,
  ...healthRoutes,
  ...inventoryRoutes,
  ...checkRoutes,
  ...rotateRoutes,
  ...emergencyRoutes,
  ...retireRoutes,
  ...resumeRoutes,
  ...importRoutes,
  ...sessionRoutes,
  ...auditRoutes,
  ...secretRoutes,
  ...tokenRoutes,
];

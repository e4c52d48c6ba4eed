// The status reads (StatusQueries) as SQL on the reading commands' synchronous SQLite path
// (sqlite-reads.ts): the same rows as kyselyStatusQueries, without loading Kysely.
import type { SqlParam, StoreReads } from '../store/sqlite-reads.js';
import { ALERT_VERSIONS_SQL } from './credential-alerts.js';
import type { SecretRow, StatusFilter, StatusQueries } from './status.js';
import { ALL_ENVIRONMENTS } from './status.js';

/** ` AND column = ?` for each filter field that is set, and its parameters. */
function filtered(
  filter: StatusFilter,
  columns: { secret: string; environment: string },
  params: SqlParam[],
): { where: string; params: SqlParam[] } {
  let where = '';
  if (filter.secret !== undefined) {
    where += ` AND ${columns.secret} = ?`;
    params.push(filter.secret);
  }
  if (filter.environment !== undefined) {
    where += ` AND ${columns.environment} = ?`;
    params.push(filter.environment);
  }
  return { where, params };
}

const PLAIN = { secret: 'secret', environment: 'environment' };

export function sqliteStatusQueries(reads: StoreReads): StatusQueries {
  return {
    environments: () => reads.all('SELECT name, position FROM environments ORDER BY position'),
    secrets: (name) =>
      name === undefined
        ? reads.all<SecretRow>('SELECT name, kind, spec FROM secrets ORDER BY name')
        : reads.all<SecretRow>(
            'SELECT name, kind, spec FROM secrets WHERE name = ? ORDER BY name',
            name,
          ),
    secretNames: () => reads.all<{ name: string }>('SELECT name FROM secrets').map((r) => r.name),
    currentVersions: (filter) => {
      const { where, params } = filtered(filter, PLAIN, []);
      return reads.all(
        `SELECT secret, environment, rotated_at, COALESCE(promoted_at, created_at) AS since FROM versions WHERE stage = 'current'${where}`,
        ...params,
      );
    },
    graceVersions: (filter, at) => {
      const { where, params } = filtered(filter, PLAIN, [at]);
      return reads.all(
        `SELECT secret, environment, retire_at FROM versions WHERE stage = 'previous' AND retire_at > ?${where}`,
        ...params,
      );
    },
    unfinishedRotations: (filter) => {
      const { where, params } = filtered(
        { ...(filter.secret === undefined ? {} : { secret: filter.secret }) },
        { secret: 'r.secret', environment: 'r.environment' },
        [],
      );
      let environment = '';
      if (filter.environment !== undefined) {
        environment = ' AND r.environment IN (?, ?)';
        params.push(filter.environment, ALL_ENVIRONMENTS);
      }
      return reads.all(
        `SELECT r.id, r.secret, r.environment, r.state, r.step, r.started_at, r.updated_at, r.finished_at, r.error_code, r.promote_after FROM rotations AS r WHERE r.state IN ('running', 'failed', 'rolled_back', 'waiting') AND NOT EXISTS (SELECT later.id FROM rotations AS later WHERE later.secret = r.secret AND later.environment = r.environment AND later.started_at > r.started_at)${where}${environment}`,
        ...params,
      );
    },
    alertVersions: () => reads.all(ALERT_VERSIONS_SQL),
    meta: (key) => reads.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', key)?.value,
  };
}

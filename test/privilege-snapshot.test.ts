// Privilege snapshots against objects other sessions create and drop meanwhile. `rotor db adopt`
// snapshots the app user's privileges, runs its grants, then snapshots the group role and the
// app user again; another application's database dropped in between (on a shared server, or a
// parallel test) was reported as a privilege the group lacked, failing a correct adopt. Inside
// one REPEATABLE READ transaction the dropped object is set apart as vanished, and one created
// meanwhile does not appear at all.
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  privilegeSnapshot,
  privilegeSnapshots,
} from '../src/rotators/postgres/privilege-snapshot.js';
import { requireService, uniquePrefix } from './helpers/services.js';
import { createScratchDatabase } from './helpers/store-backends.js';

const postgres = await requireService('postgres');
const role = `${uniquePrefix('privsnap')}_app`;
const scratch: Array<{ drop(): Promise<void> }> = [];

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: postgres.url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

afterAll(async () => {
  if (!postgres.available) return;
  for (const db of scratch) await db.drop();
  const admin = await connect();
  await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  await admin.end();
});

describe.skipIf(!postgres.available)(
  'privilege snapshots while other sessions change the catalog',
  () => {
    it('a database dropped meanwhile is vanished, not lacking; one created meanwhile is not seen', async () => {
      const other = await connect();
      const reader = await connect();
      try {
        await other.query(`CREATE ROLE ${role} LOGIN`);
        const droppedDb = await createScratchDatabase('privsnapdropped');
        scratch.push(droppedDb);
        const dropped = droppedDb.name;
        const line = (db: string, p: string) => `database ${db} ${p}`;

        await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        const before = await privilegeSnapshot(reader, role);
        // PUBLIC holds CONNECT and TEMP on a new database, so the role does too.
        expect(before).toContain(line(dropped, 'CONNECT'));

        await droppedDb.drop();
        const createdDb = await createScratchDatabase('privsnapcreated');
        scratch.push(createdDb);
        const created = createdDb.name;

        const vanished = new Set<string>();
        const [after] = await privilegeSnapshots(reader, [role], vanished);
        expect([...vanished]).toEqual(
          expect.arrayContaining([line(dropped, 'CONNECT'), line(dropped, 'TEMP')]),
        );
        expect([...vanished].filter((l) => !l.startsWith(`database ${dropped} `))).toEqual([]);
        expect(after).not.toContain(line(dropped, 'CONNECT'));
        expect(after).not.toContain(line(created, 'CONNECT'));
        // Everything else the role held is still there, unchanged.
        const rest = [...before].filter((l) => !vanished.has(l));
        expect(rest.filter((l) => !after!.has(l))).toEqual([]);
        await reader.query('COMMIT');

        // Outside such a transaction, the new database shows up: why adopt takes one snapshot.
        expect(await privilegeSnapshot(reader, role)).toContain(line(created, 'CONNECT'));
      } finally {
        await reader.query('ROLLBACK').catch(() => undefined);
        await reader.end();
        await other.end();
      }
    });
  },
);

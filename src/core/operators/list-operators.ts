// `rotor operator list`: every operator account, without any credential material.
import type { Rotor } from '../context.js';
import { toOperatorInfo, type OperatorInfo } from './operator-record.js';

export async function listOperators(rotor: Pick<Rotor, 'store'>): Promise<OperatorInfo[]> {
  const store = await rotor.store();
  const rows = await store.guard(() =>
    store.db
      .selectFrom('operators')
      .select(['name', 'created_by', 'created_at', 'disabled_at'])
      .orderBy('name')
      .execute(),
  );
  return rows.map(toOperatorInfo);
}

// A full jwt-hmac rotation (create → apply → verify → promote, journaled, audited) on a
// SQLite file, against a baseline measured in the same process: one durable SQLite write
// transaction (insert + commit) on the same store, the floor any journaled step pays.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRotor } from '../src/core/context.js';
import { applyPolicy } from '../src/core/apply/apply-policy.js';
import { DEFAULT_POLICY_YAML } from '../src/core/policy/default-policy.js';
import { ensureMasterKeyFile } from '../src/core/crypto/master-key-file.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { ROTATORS } from '../src/rotators/registry.js';
import { writeFileSync, mkdirSync } from 'node:fs';
import { medianMs, type BenchModule } from './harness.js';

const bench: BenchModule = {
  name: 'rotation',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-rot-'));
    writeFileSync(join(dir, 'rotor.yaml'), DEFAULT_POLICY_YAML);
    mkdirSync(join(dir, '.rotor'), { mode: 0o700 });
    ensureMasterKeyFile({ stateDir: join(dir, '.rotor'), env: {} });
    const rotor = createRotor({ cwd: dir, env: {}, rotators: ROTATORS });
    const actor = {
      operator: 'bench',
      requestId: '00000000-0000-4000-8000-0000000000b0',
      method: 'manual' as const,
    };
    await rotor.store({ create: true });
    await rotor.masterKey();
    await applyPolicy(rotor, actor);
    const engine = createRotationEngine({ rotor });
    const store = await rotor.store();
    const rotate = async () => {
      const r = await engine.rotate(actor, {
        secret: 'JWT_ACCESS_SECRET',
        environments: ['production'],
        method: 'manual',
      });
      if (!r.ok) throw new Error('rotation failed');
    };
    const rotation = await medianMs(50, rotate);
    let n = 0;
    const baseline = await medianMs(50, () =>
      store.writeTransaction((trx) =>
        trx
          .insertInto('meta')
          .values({ key: `bench-${n++}`, value: 'x' })
          .execute(),
      ),
    );
    await rotor.close();
    return [
      {
        name: 'jwt-hmac rotation create→promote (median of 50)',
        value: rotation,
        unit: 'ms',
        baseline: { name: 'one SQLite write transaction', value: baseline, unit: 'ms' },
        ratio: rotation / baseline,
        target: '< 50 ms',
        pass: rotation < 50,
      },
    ];
  },
};
export default bench;

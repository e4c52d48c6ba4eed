// Child process for the database benchmarks: runs the rotation engine in its own process, as
// `rotor rotate` / `rotor retire` (or the scheduler) do next to a running app, so the engine's
// CPU work (SQLite, SCRAM verifier, admin connections) does not run on the app's event loop.
// Driven over IPC by `childProcessRotations` in db-fixture.ts.
import { inProcessRotations } from './db-fixture.js';

type Request = { id: number; op: 'rotate' | 'retire' | 'close'; timeoutMs?: number };

const rotations = inProcessRotations({
  dir: process.env.ROTOR_BENCH_DIR!,
  env: JSON.parse(process.env.ROTOR_BENCH_ENV!) as NodeJS.ProcessEnv,
});

process.on('message', (message: Request) => {
  void (async () => {
    try {
      if (message.op === 'rotate') {
        const cpu = process.cpuUsage();
        const outcome = await rotations.rotate();
        const used = process.cpuUsage(cpu);
        process.send!({
          id: message.id,
          ok: true,
          ...outcome,
          cpuMs: (used.user + used.system) / 1000,
        });
      } else if (message.op === 'retire')
        process.send!({ id: message.id, ok: true, ...(await rotations.retire(message.timeoutMs)) });
      else {
        await rotations.close();
        process.send!({ id: message.id, ok: true });
        process.disconnect();
      }
    } catch (error) {
      const e = error as { code?: string; message?: string };
      process.send!({
        id: message.id,
        ok: false,
        code: e.code ?? 'ERROR',
        message: e.message ?? String(error),
      });
    }
  })();
});
process.send!({ id: 0, ok: true });

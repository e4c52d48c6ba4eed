// The client side of the SSE fan-out benchmark: N rotor/client instances in one process (a
// second process, so the server's figures are its own), each with its own stream. Reports when
// all are connected and, for every rotation, when each client held the new value.
import { createClient, type RotorClient } from '../src/sdk/client/index.js';

const [url, token, count, first] = [
  process.argv[2]!,
  process.argv[3]!,
  Number(process.argv[4]),
  Number(process.argv[5] ?? 0),
];
const SECRET = 'JWT_ACCESS_SECRET';
const ENV = 'production';
const clients: RotorClient[] = [];
let errors = 0;

const started = Date.now();
for (let i = 0; i < count; i++) {
  const client = createClient({
    url,
    token,
    app: 'bench',
    consumerId: `bench-${first + i}`,
    refreshMs: 0,
    onError: () => errors++,
  });
  client.onChange((event) => {
    if (event.change === 'rotation' && event.secret === SECRET)
      process.send!({
        type: 'changed',
        versionId: event.versionId,
        receivedAt: event.receivedAt,
        at: Date.now(),
      });
  });
  clients.push(client);
}
// Connect in slices, as a fleet of app instances would, not in one synchronous burst.
for (let i = 0; i < count; i += 100) {
  await Promise.all(
    clients.slice(i, i + 100).map(async (c) => {
      await c.get(SECRET, ENV);
      await c.ready(60_000);
    }),
  );
}
process.send!({ type: 'ready', ms: Date.now() - started, errors });

process.on('message', (message: { type: string }) => {
  if (message.type === 'stop') {
    void Promise.all(clients.map((c) => c.close())).then(() => {
      process.send!({ type: 'stopped', errors });
      process.exit(0);
    });
  }
});

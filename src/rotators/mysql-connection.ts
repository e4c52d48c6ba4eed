// One short-lived MySQL/MariaDB connection for a rotator's admin work: opened, used, always ended.
import mysql from 'mysql2/promise';

export interface ConnectionErrors {
  /** The error when the connection cannot be opened. */
  connect: (error: unknown) => Error;
  /** The error when `run` fails. */
  run: (error: unknown) => Error;
}

/** Runs `run` on a fresh single-statement connection to `url`, then ends the connection. */
export async function withConnection<T>(
  target: { url: string; connectTimeoutMs: number },
  errors: ConnectionErrors,
  run: (db: mysql.Connection) => Promise<T>,
): Promise<T> {
  let db: mysql.Connection;
  try {
    db = await mysql.createConnection({
      uri: target.url,
      connectTimeout: target.connectTimeoutMs,
      multipleStatements: false,
    });
  } catch (error) {
    throw errors.connect(error);
  }
  try {
    return await run(db);
  } catch (error) {
    throw errors.run(error);
  } finally {
    await db.end().catch(() => {});
  }
}

// A source of one secret's current value for application-side helpers (rotor/pg, rotor/mysql):
// `load` reads the value now, `watch` calls back when it may have changed (the caller reloads and
// compares). `valueFromStore` reads a local Rotor store read-only and notices rotations;
// `valueFromEnv` reads the environment `rotor run` prepared and never changes.
export interface ValueSource {
  /** The current value of `secret`. */
  load(secret: string): Promise<string>;
  /** Calls `onChange` when the value of `secret` may have changed; returns an unsubscribe. */
  watch(secret: string, onChange: () => void): () => void;
  /** Stops polling and closes what the source opened. */
  close(): Promise<void>;
}

// The names the master key goes by outside its file: its kind in rotor.yaml and the store's meta
// rows that record which key sealed the store. Leaf constants, so the SDK can import them too.

/** The policy kind of the master key's own entry (cadence only: Rotor stores no value for it). */
export const MASTER_KEY_KIND = 'master-key';

/** The meta row holding the check value of the key that sealed the store (base64). */
export const MASTER_KEY_CHECK = 'master_key_check';

/** The meta row holding when the master key was last rotated (ms since the epoch). */
export const MASTER_KEY_ROTATED_AT = 'master_key_rotated_at';

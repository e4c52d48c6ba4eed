// The `deliveredParts` of a kind whose value has two halves (key id and secret, user and
// password): each half under the variable rotor.yaml names for it (`variablePair`).

/**
 * The halves of a value, in `keys` order, under the variables named for them; none when no
 * variables are named or the value does not parse (delivery then carries the whole value only).
 *
 * @example
 * deliveredParts: (config, value) =>
 *   pairParts(config.variables, ['username', 'password'], () => parseSmtpValue(value, 'value')),
 */
export function pairParts<K extends string>(
  variables: Readonly<Record<K, string>> | undefined,
  keys: readonly [K, K],
  parse: () => Readonly<Record<K, string>>,
): Array<{ variable: string; value: string }> {
  if (!variables) return [];
  try {
    const halves = parse();
    return keys.map((key) => ({ variable: variables[key], value: halves[key] }));
  } catch {
    return [];
  }
}

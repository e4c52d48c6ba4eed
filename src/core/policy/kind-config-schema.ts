// Each kind's `config:` in the JSON Schema `rotor schema` prints: rotor.yaml validates `config`
// per kind, so editors get the same checks and descriptions (including what is experimental or
// untested) through `if kind = X then config: <X's schema>`.
import { z } from 'zod';
import type { AnyRotator } from '../rotator/rotator-contract.js';

type JsonObject = Record<string, unknown>;

/** Adds the per-kind config schemas to the schema of a secret entry; returns `schema`. */
export function withKindConfigs(schema: unknown, rotators: readonly AnyRotator[]): unknown {
  const root = schema as { properties?: { secrets?: { additionalProperties?: JsonObject } } };
  const entry = root.properties?.secrets?.additionalProperties;
  if (!entry) return schema;
  entry.allOf = rotators.map((r) => {
    const config = z.toJSONSchema(r.configSchema, {
      io: 'input',
      unrepresentable: 'any',
    }) as JsonObject;
    delete config.$schema;
    return {
      if: { properties: { kind: { const: r.kind } } },
      then: { description: r.summary, properties: { config } },
    };
  });
  return schema;
}

// The name rules rotor.yaml shares between its parts: secrets are environment-variable names,
// environments are short lower-case slugs.
export const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,127}$/;
export const ENV_NAME = /^[a-z][a-z0-9-]{0,62}$/;
export const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

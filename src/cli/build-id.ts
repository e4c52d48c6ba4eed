// Which build of the CLI bundle is running: scripts/build.mjs defines __ROTOR_BUILD_ID__ (a hash
// of the sources). Undefined when running from sources (tests, tsx), where nothing is cached.
declare const __ROTOR_BUILD_ID__: string | undefined;

export const BUILD_ID: string | undefined =
  typeof __ROTOR_BUILD_ID__ === 'string' ? __ROTOR_BUILD_ID__ : undefined;

// The version `rotor --version` prints (kept equal to package.json by test/cli-version.test.ts).
export const VERSION = '0.1.0';

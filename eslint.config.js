// Lint rules for the whole repository: typescript-eslint's type-checked set, the import
// boundaries between layers, and rules that protect the security posture.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { importFootprint } from './eslint-rules/import-footprint.js';

// Layers: cli → server, rotators, sdk → core. An import never climbs back up: each layer lists
// the src/ folders it must not import (a relative specifier climbs `../` into the folder).
const LAYERS = {
  core: ['cli', 'server', 'sdk', 'rotators'],
  sdk: ['cli', 'server', 'rotators'],
  rotators: ['cli', 'server', 'sdk'],
  server: ['cli'],
};

// rotor/client and rotor/jwt load no CLI, no server, no npm package (the jwt reader's optional
// better-sqlite3 peer aside): every import in these files stays inside the files listed.
const FOOTPRINTS = [
  {
    name: 'rotor/client',
    files: [
      'src/sdk/client/',
      'src/sdk/jwt/key-material.ts',
      'src/sdk/jwt/key-source.ts',
      'src/core/errors.ts',
      'src/core/crypto/decode-strict.ts',
      'src/core/crypto/generate.ts',
      'src/core/delivery/kid-variable.ts',
      'src/core/delivery/live-state.ts',
    ],
  },
  {
    name: 'rotor/jwt',
    files: [
      'src/sdk/jwt/',
      'src/sdk/store-reader.ts',
      'src/core/errors.ts',
      'src/core/duration.ts',
      'src/core/import-peer.ts',
      'src/core/crypto/decode-strict.ts',
      'src/core/crypto/generate.ts',
      'src/core/crypto/envelope.ts',
      'src/core/crypto/master-key-file.ts',
      'src/core/crypto/master-key-names.ts',
      'src/core/delivery/kid-variable.ts',
    ],
    packages: ['better-sqlite3'],
  },
];

const layerRule = (layer) => [
  'error',
  {
    patterns: [
      {
        regex: `^(\\.\\./)+(${LAYERS[layer].join('|')})/`,
        message: `src/${layer} imports nothing from ${LAYERS[layer].join(', ')} (cli → server, rotators, sdk → core).`,
      },
      { regex: '^rotor(/|$)', message: 'Source files import each other by relative path.' },
    ],
  },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist.*/**',
      'packages/*/dist/**',
      'packages/*/dist.*/**',
      'node_modules/**',
      'coverage/**',
      'bench/**/*.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { rotor: { rules: { 'import-footprint': importFootprint } } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      // An async function without await is how an implementation of a Promise-returning
      // contract turns a throw into a rejection; floating and misused promises stay errors.
      '@typescript-eslint/require-await': 'off',
      'no-console': 'off',
      eqeqeq: ['error', 'always'],
      'max-params': ['error', 4],
      'rotor/import-footprint': ['error', FOOTPRINTS],
    },
  },
  ...Object.keys(LAYERS).map((layer) => ({
    files: [`src/${layer}/**/*.ts`],
    rules: { 'no-restricted-imports': layerRule(layer) },
  })),
  {
    // Tests and benches read JSON bodies and driver rows as `any` and assert on them; the
    // no-unsafe-* family would flag every such read. Source files keep it.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript (build scripts, the example app, lint rules) is outside tsconfig.json.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['src/core/**/*.ts', 'src/rotators/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
);

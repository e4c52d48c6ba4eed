// Lint rules for the whole repository: typescript-eslint's recommended set plus a few
// rules that protect the security posture (no stray console output from the core).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

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
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-console': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['src/core/**/*.ts', 'src/rotators/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
);

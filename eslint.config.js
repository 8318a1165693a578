import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'charts/**', 'crds/**', 'coverage/**', '.tko/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // src/core stays pure: no I/O modules.
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:fs*', 'node:net', 'node:http*', 'node:child_process', 'fs', 'net', 'http', 'https', 'child_process'], message: 'src/core is pure: no I/O.' },
            { group: ['@kubernetes/*', 'undici', 'fastify', 'winston', 'prom-client'], message: 'src/core is pure: no I/O.' },
            { group: ['../operator/*', '../agent/*', '../cli/*'], message: 'src/core imports nothing outside core.' },
          ],
        },
      ],
    },
  },
);

// Three projects: unit (pure + nock), integration (real kube-apiserver/etcd test bed),
// e2e (real ATS with the bridge plugin, real TLS clients). `npm test` runs all three.
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } }],
};
const common = { transform, extensionsToTreatAsEsm: ['.ts'], testEnvironment: 'node' };

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/testbed/jest-global-setup.ts',
      globalTeardown: '<rootDir>/test/testbed/jest-global-teardown.ts',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/testbed/jest-global-setup.ts',
      globalTeardown: '<rootDir>/test/testbed/jest-global-teardown.ts',
    },
  ],
  testTimeout: 60000,
  // One test file at a time: integration and e2e files share one API server, loopback
  // addresses and ATS ports, and an operator watching all namespaces must not meet another
  // file's live TicketKeySets.
  maxWorkers: 1,
};

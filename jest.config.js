// Three projects: unit (pure + nock), integration (real kube-apiserver/etcd test bed),
// e2e (real ATS with the bridge plugin, real TLS clients), cluster (the project's own single-node
// cluster: kubelet, containerd, images built from the Dockerfile). `npm test` runs all four.
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } }],
};
// Tests live under test/; the cluster's state dir (.tko/, container root filesystems) is never crawled.
const common = { transform, extensionsToTreatAsEsm: ['.ts'], testEnvironment: 'node', roots: ['<rootDir>/test'], modulePathIgnorePatterns: ['<rootDir>/.tko/', '<rootDir>/dist/'] };

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
    {
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
      globalSetup: '<rootDir>/test/cluster/jest-global-setup.ts',
      globalTeardown: '<rootDir>/test/cluster/jest-global-teardown.ts',
    },
  ],
  testTimeout: 60000,
  // One test file at a time: integration and e2e files share one API server, loopback
  // addresses and ATS ports, and an operator watching all namespaces must not meet another
  // file's live TicketKeySets.
  maxWorkers: 1,
};

// Projects: `unit` needs nothing but Node; `integration` gets the real peers (PostgreSQL, MLflow,
// SeaweedFS) started once by test/peers/global-setup.ts; `cluster` brings up a real single-node
// Kubernetes with the Argo controller (test/cluster/harness) and runs the product on it.
// ts-jest only transpiles (tsconfig isolatedModules); `npm run build` (tsc --noEmit) type-checks.
const tsJest = ['ts-jest', { diagnostics: false }];
const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': tsJest },
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/peers/global-setup.ts',
      globalTeardown: '<rootDir>/test/peers/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/cluster/suite/**/*.test.ts'],
    },
  ],
  testTimeout: 120000,
};

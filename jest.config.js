// Projects: `unit` needs nothing but Node; `integration` gets the real peers (PostgreSQL, MLflow,
// SeaweedFS) started once by test/peers/global-setup.ts; `cluster` brings up a real single-node
// Kubernetes with the Argo controller (test/cluster/harness) and runs the product on it; `image`
// builds the product image from the Dockerfile (image/build.sh) and runs it with runc.
// ts-jest only transpiles (tsconfig isolatedModules); `npm run build` (tsc --noEmit) type-checks.
const tsJest = ['ts-jest', { diagnostics: false }];
const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': tsJest },
};
module.exports = {
  // One temporary directory per run (TMPDIR for every worker and what it spawns), removed at the end.
  globalSetup: '<rootDir>/test/tmpdir/global-setup.ts',
  globalTeardown: '<rootDir>/test/tmpdir/global-teardown.ts',
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
    // The product image, built for real from the Dockerfile (image/build.sh: BuildKit + stand-in
    // base images) and run with runc; plus the npm packaging (prepare bundles, npx model-mirror).
    { ...common, displayName: 'image', testMatch: ['<rootDir>/test/image/**/*.test.ts'] },
  ],
  testTimeout: 120000,
  // The long cluster file starts first, beside the others (test/sequencer.js).
  testSequencer: '<rootDir>/test/sequencer.js',
};

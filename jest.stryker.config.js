/** @type {import('jest').Config} */
// The jest configuration Stryker runs (npm run test:mutation:src): the io_uring
// project alone. A mutant in src/ is driver-agnostic code; running every test
// twice (once per driver) would double the time and kill no more mutants.
// Left out: tests that cannot see a mutant. test/structure reads source files
// (Stryker's instrumented copies are longer than the originals, so the
// 600-line rule would fail on them); test/docs and test/examples run code in
// child processes built from the unmutated sources (dist/, or snippets
// compiled apart). They run in the normal suite.
const { projects } = require('./jest.config');

const uring = projects.find((p) => p.displayName === 'uring');
module.exports = {
  ...uring,
  testTimeout: 30000,
  rootDir: __dirname,
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/structure/', '<rootDir>/test/docs/', '<rootDir>/test/examples/'],
};

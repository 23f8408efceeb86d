/** @type {import('jest').Config} */
// The jest configuration Stryker runs (npm run test:mutation:src): the io_uring
// project alone. A mutant in src/ is driver-agnostic code; running every test
// twice (once per driver) would double the time and kill no more mutants.
const { projects } = require('./jest.config');

const uring = projects.find((p) => p.displayName === 'uring');
module.exports = { ...uring, testTimeout: 30000, rootDir: __dirname };

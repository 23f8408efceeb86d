/** @type {import('jest').Config} */
// One jest run, three projects: the whole suite on io_uring, the API, the
// example, the layout, the host and the thread tests again on the epoll driver, and
// the API tests that need no peer outside percore on the simulation host (selected
// by PERCORE_DRIVER in each project's setup file). One run keeps a single
// `Tests:` summary line for .ci/run to parse.
const base = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
};

module.exports = {
  testTimeout: 30000,
  projects: [
    { ...base, displayName: 'uring', setupFiles: ['<rootDir>/test/setup-uring.ts'] },
    {
      ...base,
      displayName: 'epoll',
      setupFiles: ['<rootDir>/test/setup-epoll.ts'],
      testMatch: [
        '<rootDir>/test/runtime/**/*.test.ts',
        '<rootDir>/test/io/**/*.test.ts',
        '<rootDir>/test/net/**/*.test.ts',
        '<rootDir>/test/fs/**/*.test.ts',
        '<rootDir>/test/bridge/**/*.test.ts',
        '<rootDir>/test/http/**/*.test.ts',
        '<rootDir>/test/examples/**/*.test.ts',
        '<rootDir>/test/host/**/*.test.ts',
        '<rootDir>/test/threads/**/*.test.ts',
        '<rootDir>/test/layout.test.ts',
      ],
    },
    {
      ...base,
      displayName: 'sim',
      setupFiles: ['<rootDir>/test/setup-sim.ts'],
      // The API tests whose peers are percore streams too: a node:net peer or
      // a worker thread cannot reach the simulated machine.
      testMatch: [
        '<rootDir>/test/io/{buf-reader,buf-writer,codec,copy-rent,memory-safety,recv}.test.ts',
        '<rootDir>/test/net/tcp-echo.test.ts',
        '<rootDir>/test/runtime/{beside-http,time}.test.ts',
      ],
    },
  ],
};

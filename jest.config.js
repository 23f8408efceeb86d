/** @type {import('jest').Config} */
// One jest run, two projects: the whole suite on io_uring, and the API, the
// example, the layout, the host and the thread tests again on the epoll driver (selected
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
  ],
};

// The mutations scripts/mutate.js applies, one at a time: each is a realistic
// bug in the core (assembly/) or the host (host/), and `tests` are the jest
// files that must catch it. `find` must occur exactly once in `file`.
// Every bug found later adds an entry here.

/** @type {{ id: string, layer: 'core' | 'host', file: string, find: string, replace: string, why: string, tests: string[] }[]} */
module.exports = [
  {
    id: 'core-buffer-free-while-lent',
    layer: 'core',
    file: 'assembly/buffers.ts',
    find: 'if (owner == OWNER_KERNEL) return -EBUSY;\n  if (owner != OWNER_PROGRAM) return -EINVAL;\n  giveBack(index);',
    replace: 'if (owner != OWNER_PROGRAM && owner != OWNER_KERNEL) return -EINVAL;\n  giveBack(index);',
    why: 'a buffer lent to the kernel can be freed (and handed out again while the kernel writes it)',
    tests: ['test/core/buffers.test.ts'],
  },
  {
    id: 'core-lend-past-buffer-end',
    layer: 'core',
    file: 'assembly/buffers.ts',
    find: '<u64>offset + <u64>len > <u64>bufferSize',
    replace: '<u64>offset > <u64>bufferSize',
    why: 'a span running past its buffer is lent: the kernel writes into the next buffer',
    tests: ['test/core/buffers.test.ts', 'test/core/ops.test.ts'],
  },
];

// Type-checked by scripts/test-package.js with "module": "nodenext" and
// --strict: a CommonJS TypeScript consumer sees the package's types.
import percore = require('percore');

export const reason: string | null = percore.Runtime.current().driverReason;
export const later: Promise<void> = percore.sleep(1);

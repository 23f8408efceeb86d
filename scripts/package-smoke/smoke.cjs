// The smoke through `require('percore')`: the package's "require" condition.
require('./smoke.js')(require('percore')).catch((err) => {
  console.error(err);
  process.exit(1);
});

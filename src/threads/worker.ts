// The worker entry of the launcher (src/threads/launcher.ts): runs one thread's main
// with its own runtime and reports to the launcher through parentPort. Not
// part of the public API; workers load its compiled form, dist/src/threads/worker.js.
import { parentPort, workerData } from 'node:worker_threads';
import { runThread, serializeError, type ThreadInit, type ToLauncher, type ToThread } from './launcher';

const port = parentPort;
if (port === null) throw new Error('percore: thread.js runs only as a worker started by start()');

const init = workerData as ThreadInit;
const controller = new AbortController();
let force: () => void = () => {};
const post = (msg: ToLauncher): void => port.postMessage(msg);

// The port stays ref'd while main runs: a main waiting only for ctx.signal
// must not let the worker's loop run dry and exit under it.
port.on('message', (msg: ToThread) => {
  if (msg.type === 'stop')
    controller.abort(Object.assign(new Error('percore is shutting down'), { code: 'ERR_PERCORE_SHUTDOWN' }));
  else if (msg.type === 'force') force();
});

runThread(init, {
  ready: (info) => post({ type: 'ready', info }),
  signal: controller.signal,
  onForce: (f) => {
    force = f;
  },
})
  .then(
    (value) => {
      try {
        post({ type: 'done', value });
      } catch (err) {
        post({ type: 'failed', error: serializeError(err) }); // a result that cannot be cloned
      }
    },
    (err) => {
      post({ type: 'failed', error: serializeError(err) });
    },
  )
  .finally(() => {
    // Nothing of the launcher's keeps the worker alive now: it exits once the
    // program's own handles (if any) are gone.
    port.unref();
  });

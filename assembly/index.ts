// The core's exports, exactly those listed in docs/ARCHITECTURE.md ("The
// core's exports"). Everything else is private to the module. The only import
// is env.memory; `_initialize` (the start function, exported through
// asconfig.json) must be called once before anything else.
export { init, layoutTableLength, layoutTable } from "./init";
export { bufAlloc, bufFree, bufOwner } from "./buffers";
export {
  submitNop, submitAccept, submitConnect, submitRecv, submitRecvSelect, submitSend, submitRead, submitWrite,
  submitSendMsg, submitRecvMsg, submitSplice,
  submitClose, submitShutdown, submitTimeout, submitOpenat, submitFsync, submitStatx,
  submitPathOp, submitFallocate, timerStart, cancel, abandon,
} from "./submit";
export { submitCopy, copyInfo } from "./copy";
export { reap, nextTimeout } from "./reap";
export { counter } from "./counters";
export { opState } from "./state";
export { checkInvariants } from "./invariants";

// The abort handler named by `--use abort=` must be part of the program.
import "./trap";

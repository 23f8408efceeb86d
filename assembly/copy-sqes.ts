// The SQEs a COPY relay writes for itself (see copy.ts): RECV from `from`,
// SEND of the bytes not yet sent to `to`, SHUTDOWN of `to`, all with the
// relay's own id. Each puts the op back in QUEUED until the host takes it and
// records which SQE is out (the phase). Also the relay's options, which decide
// what its RECV looks like.
//
// Below copy.ts, so that the recv set can re-arm a starved relay
// (copy-starved.ts) without the buffer pool importing the relay's logic.
import { OP_RECV, OP_SEND, OP_SHUTDOWN, SQE_F_BUFFER_SELECT } from "./layout";
import { bufferAddress, bufferSize } from "./regions";
import {
  STATE_QUEUED, copyFilled, copyFrom, copyOptions, copySent, copyTo, idOf, setCopyFilled, setCopyPhase,
  setCopySent, setSlotSqIndex, setSlotState, slotBuffer,
} from "./ops";
import { sqPush } from "./queues";

/// COPY_F_END: at the end of `from`, shut `to` down for writing (send FIN)
/// before the relay completes.
export const COPY_F_END: u32 = 1;
/// COPY_F_SELECT: receive into recv-set buffers (no buffer is passed).
export const COPY_F_SELECT: u32 = 2;
export const COPY_OPTIONS_MASK: u32 = COPY_F_END | COPY_F_SELECT;

// Which SQE of the relay is out (copyInfo's INFO_PHASE).
export const PHASE_RECV: u8 = 0;
export const PHASE_SEND: u8 = 1;
export const PHASE_SHUTDOWN: u8 = 2;
export const PHASE_STARVED: u8 = 3; // no SQE out: on the starved list, waiting for a recv-set buffer

const SHUT_WR: u32 = 1;

export function isSelect(slot: u32): bool {
  return (copyOptions(slot) & COPY_F_SELECT) != 0;
}

/// The next RECV: into the relay's whole buffer, or with COPY_F_SELECT into a
/// recv-set buffer the host picks when data arrives.
export function pushRecv(slot: u32): void {
  setCopyFilled(slot, 0);
  setCopySent(slot, 0);
  if (isSelect(slot)) {
    // No address: the host picks the buffer when data arrives.
    setSlotState(slot, STATE_QUEUED);
    setCopyPhase(slot, PHASE_RECV);
    setSlotSqIndex(slot, sqPush(<u32>idOf(slot), OP_RECV, SQE_F_BUFFER_SELECT, copyFrom(slot), 0, bufferSize, 0, 0));
    return;
  }
  push(slot, PHASE_RECV, OP_RECV, copyFrom(slot), 0, bufferSize, 0);
}

/// A SEND of the bytes received and not sent yet, [sent, filled).
export function pushSend(slot: u32): void {
  const sent = copySent(slot);
  push(slot, PHASE_SEND, OP_SEND, copyTo(slot), sent, copyFilled(slot) - sent, 0);
}

export function pushShutdown(slot: u32): void {
  push(slot, PHASE_SHUTDOWN, OP_SHUTDOWN, copyTo(slot), 0, 0, SHUT_WR);
}

/// Writes the relay's next SQE; the op is QUEUED again until the host takes it.
/// `len` 0: an SQE with no buffer (SHUTDOWN).
function push(slot: u32, phase: u8, opcode: u8, fd: i32, offset: u32, len: u32, aux: u32): void {
  setSlotState(slot, STATE_QUEUED);
  setCopyPhase(slot, phase);
  const addr = len == 0 ? 0 : bufferAddress(<u32>slotBuffer(slot), offset);
  setSlotSqIndex(slot, sqPush(<u32>idOf(slot), opcode, 0, fd, addr, len, aux, 0));
}

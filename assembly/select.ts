// What a buffer-select RECV's CQE does to the recv set (see buffers.ts): the
// buffer the CQE names (CQE_F_BUFFER, its index in the high bits) leaves the
// pick set. Used by the reap for plain buffer-select RECVs and by COPY for a
// COPY_F_SELECT relay's RECV.
import { CQE_BUFFER_SHIFT, CQE_F_BUFFER } from "./layout";
import { EFAULT } from "./errno";
import { setSlotBuffer } from "./ops";
import { bufferPicked, bufferReclaim } from "./buffers";

/// A buffer-select RECV's final CQE: the buffer it names moves from the pick
/// set to the op, and on to the program with the delivery. A CQE with no data
/// (end of stream, an error) gives a named buffer straight back. Returns the
/// result to deliver: -EFAULT when the host names a buffer that is not in the
/// pick set, or reports data without a buffer; the state is left as it was.
export function pickFinalBuffer(slot: u32, res: i32, flags: u32): i32 {
  if ((flags & CQE_F_BUFFER) == 0) return res > 0 ? -EFAULT : res;
  const index = flags >>> CQE_BUFFER_SHIFT;
  if (!bufferPicked(index)) return -EFAULT;
  if (res <= 0) {
    bufferReclaim(index);
    return res;
  }
  setSlotBuffer(slot, <i32>index);
  return res;
}

/// A MORE CQE of a multishot buffer-select RECV: like pickFinalBuffer, but the
/// buffer is named by the CQE's ready entry rather than held by the op. A MORE
/// CQE with no data or no buffer is a host bug: -EFAULT, nothing changes.
export function pickMoreBuffer(res: i32, flags: u32): i32 {
  if ((flags & CQE_F_BUFFER) == 0 || res <= 0) return -EFAULT;
  return bufferPicked(flags >>> CQE_BUFFER_SHIFT) ? res : -EFAULT;
}

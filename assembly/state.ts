// opState: an op's lifecycle state as the tests see it.
import { ENOENT } from "./errno";
import { currentState, resolveId } from "./ops";

/// STATE_QUEUED 1, SUBMITTED 2, COMPLETED 3, DELIVERED 4, ARMED 5 (a timer in
/// the wheel), or -ENOENT for an id that names no live op.
export function opState(id: i32): i32 {
  const slot = resolveId(id);
  return slot < 0 ? -ENOENT : <i32>currentState(<u32>slot);
}

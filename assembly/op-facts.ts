// Per-op facts: what the core knows about particular opcodes, in one place
// rather than spread over the code that submits and completes them.
//
// The host passes io_uring's result (cqe->res) to the core unchanged, for
// every op: any translation of a kernel result into what the program sees is
// made here, once, for every driver (a readiness driver writes the results
// io_uring would).
import { OP_READ, OP_TIMEOUT, OP_WRITE } from "./layout";
import { ETIME } from "./errno";

/// The result the program is given for an op whose final CQE says `res`.
///
/// TIMEOUT: io_uring completes a timeout that expired with -ETIME. For the
/// program that is the op's success, so it is delivered as fired (0). Every
/// other result stays: 0 from a host that already reports a fired timeout so,
/// -ECANCELED after a cancel, and any other error. Other ops' results,
/// -ETIME included, are delivered as the host wrote them.
export function programResult(opcode: u8, res: i32): i32 {
  if (opcode == OP_TIMEOUT && res == -ETIME) return 0;
  return res;
}

/// READ and WRITE carry a file position in the SQE's arg; no other op does.
export function takesPosition(opcode: u8): bool {
  return opcode == OP_READ || opcode == OP_WRITE;
}

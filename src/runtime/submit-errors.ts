// The errors a submit answers with, from the core's -errno to what the
// program is told: which limit it hit and what to do about it.
import { EBUSY, EINVAL, ENOBUFS, ENOSPC } from '../errors/errno';
import { bufferInFlight, codedError, type PercoreError, systemError } from '../errors/errors';

/** The pool is empty. */
export function noBuffers(buffers: number): PercoreError {
  return codedError(
    'ERR_PERCORE_NO_BUFFERS',
    `every pool buffer is in use (buffers=${buffers}); release buffers or create the runtime with more`,
  );
}

/** The recv set has no buffer left (ENOBUFS). */
export function noRecvBuffers(): PercoreError {
  return codedError(
    'ERR_PERCORE_NO_BUFFERS',
    'every recv buffer is held by the program (recvBuffers): release the buffers recv() resolved with, or create the runtime with more',
  );
}

/** A submit's negative answer `res`, for a call that stands for `syscall`. */
export function submitError(res: number, syscall: string, sizes: { buffers: number; entries: number }): PercoreError {
  switch (-res) {
    case ENOSPC:
      return codedError(
        'ERR_PERCORE_OP_TABLE_FULL',
        `the op table is full (entries=${sizes.entries}): wait for operations to finish or create the runtime with more entries`,
      );
    case EBUSY:
      return bufferInFlight();
    case ENOBUFS:
      return noBuffers(sizes.buffers);
    case EINVAL:
      return codedError('ERR_OUT_OF_RANGE', `${syscall}: an argument is out of range`, RangeError);
    default: // EBADF and the rest: the kernel's words
      return systemError(res, syscall);
  }
}

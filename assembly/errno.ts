// Error returns are -errno with Linux's numbers on every platform: the API layer
// (src/errors/errno.ts) names them, so the core and the host agree on one table.
export const ENOENT: i32 = 2; // stale or unknown op id
export const EIO: i32 = 5; // COPY: a host reported a transfer its SQE did not ask for
export const EBADF: i32 = 9; // negative fd
export const ENOMEM: i32 = 12; // init: memory cannot grow to hold the regions
export const EFAULT: i32 = 14; // a CQE names a buffer outside the pick set (host bug)
export const EBUSY: i32 = 16; // buffer lent to the kernel
export const EINVAL: i32 = 22; // argument out of range, or the core is not initialized
export const ENOSPC: i32 = 28; // op table full
export const ETIME: i32 = 62; // io_uring's result for a TIMEOUT that fired (op-facts.ts delivers it as 0)
export const ENOBUFS: i32 = 105; // buffer pool empty
export const EALREADY: i32 = 114; // init called twice
export const ECANCELED: i32 = 125; // the op lost to a cancel

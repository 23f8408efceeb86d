// The memory layout shared by the core (this Wasm module), the host (host/layout.h)
// and the TypeScript glue (src/core/layout.ts). docs/ARCHITECTURE.md is the prose
// contract; test/layout.test.ts proves the three definitions agree, through
// LAYOUT_TABLE, whose order is part of the contract.
//
// Bump LAYOUT_VERSION on any change a host could observe.

export const LAYOUT_MAGIC: u32 = 0x50524352; // "PRCR"
export const LAYOUT_VERSION: u32 = 4;

// Sizes, in bytes.
export const HEADER_SIZE: u32 = 128;
export const SQE_SIZE: u32 = 32;
export const CQE_SIZE: u32 = 16;
export const DQE_SIZE: u32 = 16;
export const ADDR_RECORD_SIZE: u32 = 32;

// Op ids: (generation << SLOT_BITS) | slot. Generation is never 0, so 0 is never an id.
export const SLOT_BITS: u32 = 16;
export const SLOT_MASK: u32 = 0xffff;
export const MAX_OP_CAPACITY: u32 = 32768;
// The id of submissions the core makes for itself (cancel requests). The host
// completes them like any other; the core drops their completions.
export const INTERNAL_ID: u32 = 0xffffffff;

// Header field offsets (all u32 little-endian, header 64-byte aligned).
export const H_MAGIC: u32 = 0;
export const H_VERSION: u32 = 4;
export const H_HEADER_SIZE: u32 = 8;
export const H_OP_CAPACITY: u32 = 12;
export const H_SQ_ENTRIES: u32 = 16; // address of the SQE array
export const H_SQ_MASK: u32 = 20; // entries - 1 (entries is a power of two)
export const H_SQ_HEAD: u32 = 24; // written by the host only
export const H_SQ_TAIL: u32 = 28; // written by the core only
export const H_CQ_ENTRIES: u32 = 32;
export const H_CQ_MASK: u32 = 36;
export const H_CQ_HEAD: u32 = 40; // written by the core only
export const H_CQ_TAIL: u32 = 44; // written by the host only
export const H_DQ_ENTRIES: u32 = 48; // delivery queue, core -> JS
export const H_DQ_COUNT: u32 = 52;
export const H_ARENA: u32 = 56;
export const H_BUFFER_SIZE: u32 = 60;
export const H_BUFFER_COUNT: u32 = 64;
export const H_ADDR_RECORDS: u32 = 68; // op_capacity records, one per slot
export const H_ADDR_STAGING: u32 = 72; // one record written by JS / host helpers
export const H_MEMORY_END: u32 = 76; // first byte past the last region
export const H_DQ_CAPACITY: u32 = 80;
export const H_READY: u32 = 84; // deliveries waiting beyond the current batch
// The provide ring (v2): pool buffers the core puts in the kernel's pick set,
// one u32 buffer index per entry, core -> host. Buffers [0, provide_count)
// are the recv set: they are never free, only provided, program or kernel.
export const H_PROVIDE_ENTRIES: u32 = 88; // address of the u32 array
export const H_PROVIDE_MASK: u32 = 92; // entries - 1 (entries >= provide_count)
export const H_PROVIDE_HEAD: u32 = 96; // written by the host only
export const H_PROVIDE_TAIL: u32 = 100; // written by the core only
export const H_PROVIDE_COUNT: u32 = 104; // buffers in the recv set: indices [0, count)
export const PROVIDE_ENTRY_SIZE: u32 = 4;
export const MAX_PROVIDE_COUNT: u32 = 32768; // the kernel's limit for a buffer ring

// Submission entry (core -> host).
export const SQE_ID: u32 = 0; // u32
export const SQE_OPCODE: u32 = 4; // u8
export const SQE_FLAGS: u32 = 5; // u8
export const SQE_FD: u32 = 8; // i32
export const SQE_ADDR: u32 = 12; // u32 memory offset
export const SQE_LEN: u32 = 16; // u32
export const SQE_AUX: u32 = 20; // u32: SHUTDOWN how
export const SQE_ARG: u32 = 24; // u64: file position, timeout ns, cancel target id

// Completion entry (host -> core).
export const CQE_ID: u32 = 0; // u32
export const CQE_RES: u32 = 4; // i32: >= 0 result, < 0 -errno (Linux numbering)
export const CQE_FLAGS: u32 = 8; // u32

// Delivery entry (core -> JS).
export const DQE_ID: u32 = 0; // u32
export const DQE_RES: u32 = 4; // i32
export const DQE_FLAGS: u32 = 8; // u32 (CQE flags passed through)
export const DQE_OPCODE: u32 = 12; // u32

// Address record (neutral socket address).
export const ADDR_FAMILY: u32 = 0; // u16: 0 none, 4 IPv4, 6 IPv6
export const ADDR_PORT: u32 = 2; // u16, host order
export const ADDR_SCOPE_ID: u32 = 4; // u32
export const ADDR_FLOWINFO: u32 = 8; // u32
export const ADDR_MSG_FLAGS: u32 = 12; // u32 (v4): what a RECVMSG's host wrote about the datagram (MSGF_*)
export const ADDR_BYTES: u32 = 16; // u8[16], network order; IPv4 in the first 4

// Opcodes.
export const OP_NOP: u8 = 0;
export const OP_ACCEPT: u8 = 1;
export const OP_CONNECT: u8 = 2;
export const OP_RECV: u8 = 3;
export const OP_SEND: u8 = 4;
export const OP_READ: u8 = 5;
export const OP_WRITE: u8 = 6;
export const OP_CLOSE: u8 = 7;
export const OP_SHUTDOWN: u8 = 8;
export const OP_TIMEOUT: u8 = 9;
export const OP_CANCEL: u8 = 10;
export const OP_TIMER: u8 = 11; // core only: never written to the SQ
export const OP_COPY: u8 = 12; // core only (v3): a relay whose SQEs are RECV, SEND and SHUTDOWN
export const OP_SENDMSG: u8 = 13; // v4: one datagram; aux SENDMSG_TO: to the slot's address record
export const OP_RECVMSG: u8 = 14; // v4: one datagram; the host writes its source into the slot's record
export const OP_SPLICE_IN: u8 = 15; // v4: socket fd -> pipe (aux: the pipe's write end), at most len bytes
export const OP_SPLICE_OUT: u8 = 16; // v4: pipe (aux: its read end) -> socket fd, at most len bytes
// Files (v4): run by io_uring itself, and by the readiness drivers' blocking pool.
export const OP_OPENAT: u8 = 17; // addr/len: a NUL-terminated path in the arena; aux: OPEN_F_*; arg: mode
export const OP_FSYNC: u8 = 18; // aux: 0 or FSYNC_F_DATASYNC
export const OP_STATX: u8 = 19; // addr/len: STATX_SIZE bytes in the arena the host fills (the fd's statx)
// Path operations (v4), relative to the working directory: addr/len hold one
// C string (UNLINKAT, MKDIRAT) or two back to back (RENAMEAT, SYMLINKAT,
// LINKAT: "old\0new\0", len counting both NULs).
export const OP_RENAMEAT: u8 = 20;
export const OP_UNLINKAT: u8 = 21; // aux: 0 or UNLINK_F_DIR (rmdir)
export const OP_MKDIRAT: u8 = 22; // arg: mode
export const OP_SYMLINKAT: u8 = 23; // "target\0linkpath\0"
export const OP_LINKAT: u8 = 24;
// FALLOCATE (v4): fd; aux = FALLOC_F_*; arg = offset; the length, 64 bits,
// in addr (high 32) and len (low 32): the SQE has no other 64-bit field.
export const OP_FALLOCATE: u8 = 25;
export const OP_COUNT: u8 = 26;

// Flags.
export const SQE_F_MULTISHOT: u8 = 1;
export const SQE_F_BUFFER_SELECT: u8 = 2; // RECV: the host picks a recv-set buffer when data arrives
export const CQE_F_MORE: u32 = 1;
export const CQE_F_BUFFER: u32 = 2; // a recv-set buffer holds the data; its index is flags >> CQE_BUFFER_SHIFT
export const CQE_BUFFER_SHIFT: u32 = 16;
export const SENDMSG_TO: u32 = 1; // SENDMSG aux: send to the op slot's address record (else: connected)
export const SENDMSG_TO_NAME: u32 = 2; // SENDMSG aux: send to the Unix name the host holds for this op (stageName)
export const MSG_FDS: u32 = 4; // SENDMSG/RECVMSG aux bit: descriptors ride along (SCM_RIGHTS): stageFds / msgFds
export const MSG_FDS_MAX: u32 = 16; // descriptors one message carries at most
export const MSGF_CTRUNC: u32 = 2; // ADDR_MSG_FLAGS: descriptors past MSG_FDS_MAX were dropped (closed by the kernel)
export const ADDR_FAMILY_UNIX: u32 = 1; // ADDR_FAMILY of a RECVMSG's Unix sender: its name is the host's (msgName)
export const MSGF_TRUNC: u32 = 1; // ADDR_MSG_FLAGS: the datagram was longer than the buffer (cut)

// OPENAT flags (v4): the layout's own bits, translated by the host into the
// platform's O_* (with O_CLOEXEC always); any other bit is refused.
export const OPEN_F_WRITE: u32 = 1; // O_WRONLY
export const OPEN_F_READ_WRITE: u32 = 2; // O_RDWR (neither bit: O_RDONLY; both: refused)
export const OPEN_F_CREATE: u32 = 4;
export const OPEN_F_EXCL: u32 = 8;
export const OPEN_F_TRUNC: u32 = 16;
export const OPEN_F_APPEND: u32 = 32;
export const OPEN_F_DIRECT: u32 = 64;
export const OPEN_F_SYNC: u32 = 128;
export const OPEN_F_DSYNC: u32 = 256;
export const OPEN_F_NOFOLLOW: u32 = 512;
export const OPEN_F_DIRECTORY: u32 = 1024;
export const OPEN_F_ALL: u32 = 2047;
export const OPEN_MODE_MAX: u32 = 4095; // 0o7777
export const PATH_MAX_LEN: u32 = 4096; // an OPENAT path, NUL included, as Linux's PATH_MAX
export const FSYNC_F_DATASYNC: u32 = 1;
export const UNLINK_F_DIR: u32 = 1;
export const FALLOC_F_KEEP_SIZE: u32 = 1; // FALLOC_FL_KEEP_SIZE
export const FALLOC_F_PUNCH_HOLE: u32 = 2; // FALLOC_FL_PUNCH_HOLE (with KEEP_SIZE)
export const FALLOC_F_ZERO_RANGE: u32 = 4; // FALLOC_FL_ZERO_RANGE
export const FALLOC_F_ALL: u32 = 7;
// STATX fills a struct statx (Linux's, 256 bytes); offsets of the fields read.
export const STATX_SIZE: u32 = 256;
export const STATX_MODE: u32 = 28; // u16
export const STATX_NLINK: u32 = 16; // u32
export const STATX_UID: u32 = 20; // u32
export const STATX_GID: u32 = 24; // u32
export const STATX_INO: u32 = 32; // u64
export const STATX_SIZE_FIELD: u32 = 40; // u64
export const STATX_BLOCKS: u32 = 48; // u64
export const STATX_BLKSIZE: u32 = 4; // u32
export const STATX_ATIME: u32 = 64; // statx_timestamp {i64 sec, u32 nsec}: 16 bytes each
export const STATX_BTIME: u32 = 80;
export const STATX_CTIME: u32 = 96;
export const STATX_MTIME: u32 = 112;
export const STATX_DEV_MAJOR: u32 = 136; // u32, then minor
export const STATX_DIO_MEM_ALIGN: u32 = 152; // u32 (6.1+, 0 when unknown), then offset align

// Socket options understood by the host's setOption helper.
export const SOCKOPT_REUSEADDR: u32 = 1;
export const SOCKOPT_REUSEPORT: u32 = 2;
export const SOCKOPT_NODELAY: u32 = 3;
export const SOCKOPT_KEEPALIVE: u32 = 4;
export const SOCKOPT_LINGER_ZERO: u32 = 5;
export const SOCKOPT_BROADCAST: u32 = 6; // v4
export const SOCKOPT_TTL: u32 = 7; // v4: an integer (IP_TTL, or IPV6_UNICAST_HOPS on IPv6)
export const SOCKOPT_MULTICAST_TTL: u32 = 8; // v4: an integer (IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS)
export const SOCKOPT_MULTICAST_LOOP: u32 = 9; // v4
export const SOCKOPT_V6ONLY: u32 = 10; // v4: IPV6_V6ONLY
export const SOCKOPT_KEEPIDLE: u32 = 11; // v4: seconds, 1..32767 (TCP_KEEPIDLE)
export const SOCKOPT_KEEPINTVL: u32 = 12; // v4: seconds, 1..32767 (TCP_KEEPINTVL)
export const SOCKOPT_KEEPCNT: u32 = 13; // v4: probes, 1..127 (TCP_KEEPCNT)
export const SOCKOPT_RCVBUF: u32 = 14; // v4: bytes (SO_RCVBUF; the kernel doubles it, read back doubled)
export const SOCKOPT_SNDBUF: u32 = 15; // v4: bytes (SO_SNDBUF; likewise)
export const SOCKOPT_LINGER: u32 = 16; // v4: seconds to linger on close, 0..65535; -1: off, read back as 65536 (SO_LINGER)
export const SOCKOPT_FASTOPEN: u32 = 17; // v4: a listener's TFO queue length, 0 off (TCP_FASTOPEN)
export const SOCKOPT_FASTOPEN_CONNECT: u32 = 18; // v4: TFO on a socket about to connect (TCP_FASTOPEN_CONNECT)
export const SOCKOPT_DEFER_ACCEPT: u32 = 19; // v4: seconds a listener waits for data before accepting (TCP_DEFER_ACCEPT)

// The agreement table: same values, same order, in all three languages.
export const LAYOUT_TABLE: StaticArray<u32> = [
  LAYOUT_MAGIC, LAYOUT_VERSION,
  HEADER_SIZE, SQE_SIZE, CQE_SIZE, DQE_SIZE, ADDR_RECORD_SIZE,
  SLOT_BITS, SLOT_MASK, MAX_OP_CAPACITY, INTERNAL_ID,
  H_MAGIC, H_VERSION, H_HEADER_SIZE, H_OP_CAPACITY,
  H_SQ_ENTRIES, H_SQ_MASK, H_SQ_HEAD, H_SQ_TAIL,
  H_CQ_ENTRIES, H_CQ_MASK, H_CQ_HEAD, H_CQ_TAIL,
  H_DQ_ENTRIES, H_DQ_COUNT, H_ARENA, H_BUFFER_SIZE, H_BUFFER_COUNT,
  H_ADDR_RECORDS, H_ADDR_STAGING, H_MEMORY_END, H_DQ_CAPACITY, H_READY,
  H_PROVIDE_ENTRIES, H_PROVIDE_MASK, H_PROVIDE_HEAD, H_PROVIDE_TAIL, H_PROVIDE_COUNT,
  PROVIDE_ENTRY_SIZE, MAX_PROVIDE_COUNT,
  SQE_ID, SQE_OPCODE, SQE_FLAGS, SQE_FD, SQE_ADDR, SQE_LEN, SQE_AUX, SQE_ARG,
  CQE_ID, CQE_RES, CQE_FLAGS,
  DQE_ID, DQE_RES, DQE_FLAGS, DQE_OPCODE,
  ADDR_FAMILY, ADDR_PORT, ADDR_SCOPE_ID, ADDR_FLOWINFO, ADDR_MSG_FLAGS, ADDR_BYTES,
  OP_NOP, OP_ACCEPT, OP_CONNECT, OP_RECV, OP_SEND, OP_READ, OP_WRITE,
  OP_CLOSE, OP_SHUTDOWN, OP_TIMEOUT, OP_CANCEL, OP_TIMER, OP_COPY, OP_SENDMSG, OP_RECVMSG, OP_SPLICE_IN, OP_SPLICE_OUT,
  OP_OPENAT, OP_FSYNC, OP_STATX, OP_RENAMEAT, OP_UNLINKAT, OP_MKDIRAT, OP_SYMLINKAT, OP_LINKAT, OP_FALLOCATE, OP_COUNT,
  SQE_F_MULTISHOT, CQE_F_MORE, SQE_F_BUFFER_SELECT, CQE_F_BUFFER, CQE_BUFFER_SHIFT, SENDMSG_TO, MSGF_TRUNC,
  SENDMSG_TO_NAME, ADDR_FAMILY_UNIX, MSG_FDS, MSG_FDS_MAX, MSGF_CTRUNC,
  SOCKOPT_REUSEADDR, SOCKOPT_REUSEPORT, SOCKOPT_NODELAY, SOCKOPT_KEEPALIVE, SOCKOPT_LINGER_ZERO,
  SOCKOPT_BROADCAST, SOCKOPT_TTL, SOCKOPT_MULTICAST_TTL, SOCKOPT_MULTICAST_LOOP, SOCKOPT_V6ONLY,
  SOCKOPT_KEEPIDLE, SOCKOPT_KEEPINTVL, SOCKOPT_KEEPCNT, SOCKOPT_RCVBUF, SOCKOPT_SNDBUF, SOCKOPT_LINGER,
  SOCKOPT_FASTOPEN, SOCKOPT_FASTOPEN_CONNECT, SOCKOPT_DEFER_ACCEPT,
  OPEN_F_WRITE, OPEN_F_READ_WRITE, OPEN_F_CREATE, OPEN_F_EXCL, OPEN_F_TRUNC, OPEN_F_APPEND,
  OPEN_F_DIRECT, OPEN_F_SYNC, OPEN_F_DSYNC, OPEN_F_NOFOLLOW, OPEN_F_DIRECTORY, OPEN_F_ALL,
  OPEN_MODE_MAX, PATH_MAX_LEN, FSYNC_F_DATASYNC, UNLINK_F_DIR,
  FALLOC_F_KEEP_SIZE, FALLOC_F_PUNCH_HOLE, FALLOC_F_ZERO_RANGE, FALLOC_F_ALL,
  STATX_SIZE, STATX_MODE, STATX_NLINK, STATX_UID, STATX_GID, STATX_INO, STATX_SIZE_FIELD,
  STATX_BLOCKS, STATX_BLKSIZE, STATX_ATIME, STATX_BTIME, STATX_CTIME, STATX_MTIME,
  STATX_DEV_MAJOR, STATX_DIO_MEM_ALIGN,
];

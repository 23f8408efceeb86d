// The uring project: every runtime, example and host test runs on io_uring.
// Forced, not 'auto': a machine without io_uring fails here loudly instead of
// testing the epoll driver twice.
process.env.PERCORE_DRIVER = 'uring';

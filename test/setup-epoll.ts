// The epoll project: the same API, example and host tests on the epoll driver
// (runtimes read PERCORE_DRIVER; test/host/setup.ts picks EpollDriver by it).
process.env.PERCORE_DRIVER = 'epoll';

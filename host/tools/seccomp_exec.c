/*
 * Test helper: runs a command with io_uring's three system calls refused.
 *
 *   seccomp_exec EPERM|ENOSYS command [args...]
 *
 * Installs a seccomp BPF filter that answers io_uring_setup, io_uring_enter
 * and io_uring_register with the given errno (as Docker's default profile
 * does with EPERM, or an old kernel with ENOSYS) and allows everything else,
 * then execs the command. The filter survives exec and is inherited by
 * every thread and child. PR_SET_NO_NEW_PRIVS first lets an unprivileged
 * process install it.
 *
 * Linux only; built next to the addon by host/CMakeLists.txt, used by
 * test/api/fallback.test.ts.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The io_uring numbers are the same on every architecture (the unified
 * syscall table of Linux 5.1), so the filter need not check the arch. */
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#define __NR_io_uring_enter 426
#define __NR_io_uring_register 427
#endif

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: seccomp_exec EPERM|ENOSYS command [args...]\n");
    return 2;
  }
  int error;
  if (strcmp(argv[1], "EPERM") == 0) {
    error = EPERM;
  } else if (strcmp(argv[1], "ENOSYS") == 0) {
    error = ENOSYS;
  } else {
    fprintf(stderr, "seccomp_exec: errno must be EPERM or ENOSYS, got %s\n", argv[1]);
    return 2;
  }
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (error & SECCOMP_RET_DATA)),
  };
  struct sock_fprog prog = {
      .len = (unsigned short)(sizeof filter / sizeof filter[0]),
      .filter = filter,
  };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    perror("seccomp_exec: prctl(PR_SET_NO_NEW_PRIVS)");
    return 1;
  }
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    perror("seccomp_exec: prctl(PR_SET_SECCOMP)");
    return 1;
  }
  execvp(argv[2], argv + 2);
  perror("seccomp_exec: exec");
  return 127;
}

// What the simulated kernel does not model yet: Unix sockets, UDP and
// multicast, descriptors passed over sockets (docs/SIMULATION.md). Each call
// answers as a kernel without the feature would, so a program under
// simulation gets a coded error (EAFNOSUPPORT, EOPNOTSUPP), never a crash or a
// silent success.

import type { HostAddress, PeerCredentials } from '../driver/addon';
import { EAFNOSUPPORT, EOPNOTSUPP } from '../errors/errno';

/** The `Driver` methods the sim host refuses; `SimDriver` extends it. */
export class Unmodelled {
  bindUnix(_fd: number, _name: Uint8Array, _unlinkStale: boolean): number {
    return -EAFNOSUPPORT;
  }
  connectUnix(_fd: number, _name: Uint8Array): number {
    return -EAFNOSUPPORT;
  }
  unixLocalName(_fd: number): Uint8Array | number {
    return -EAFNOSUPPORT;
  }
  unixPeerName(_fd: number): Uint8Array | number {
    return -EAFNOSUPPORT;
  }
  membership(_fd: number, _group: string, _iface: string, _join: boolean): number {
    return -EOPNOTSUPP;
  }
  recordAddress(_offset: number): HostAddress | number {
    return -EOPNOTSUPP;
  }
  stageName(_id: number, _name: Uint8Array): number {
    return -EAFNOSUPPORT;
  }
  msgName(_id: number): Uint8Array | number {
    return -EAFNOSUPPORT;
  }
  stageFds(_id: number, _fds: readonly number[]): number {
    return -EOPNOTSUPP;
  }
  msgFds(_id: number): number[] | number {
    return -EOPNOTSUPP;
  }
  peerCredentials(_fd: number): PeerCredentials | number {
    return -EAFNOSUPPORT;
  }
}

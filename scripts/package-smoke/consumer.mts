// Type-checked by scripts/test-package.js with "module": "nodenext" and
// --strict: an ESM TypeScript consumer sees the package's types.
import { Channel, Runtime, TcpListener, type TcpStream } from 'percore';

export async function serveOnce(): Promise<number> {
  const listener: TcpListener = await TcpListener.bind('127.0.0.1:0');
  const stream: TcpStream = await listener.accept();
  const [n]: [number, Uint8Array] = await stream.read(new Uint8Array(16));
  await stream.close();
  return n;
}
export const channel: Channel<number> = new Channel<number>({ capacity: 2 });
export const driver: string = Runtime.current().driver;

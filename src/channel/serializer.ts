// Structured clone for channel messages, with zero-copy views over the
// SharedArrayBuffers a channel was made with.
import * as v8 from 'node:v8';
import { codedError, type PercoreError } from '../errors/errors';

// ---- structured clone with zero-copy views over registered shared buffers ----

// Typed arrays are written as host objects so views over a registered
// SharedArrayBuffer can go by reference; every other view is copied, as
// v8.DefaultSerializer does.
const VIEW_TYPES = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  DataView,
  BigInt64Array,
  BigUint64Array,
] as const;
const TAG_COPY = 0;
const TAG_SHARED = 1;
const TAG_BUFFER = 2; // a Node Buffer (copied), which arrives as a Buffer

export class ChannelSerializer extends v8.Serializer {
  constructor(private readonly shared: readonly SharedArrayBuffer[]) {
    super();
    // Node's own DefaultSerializer does the same (documented in node:v8).
    (
      this as unknown as { _setTreatArrayBufferViewsAsHostObjects(on: boolean): void }
    )._setTreatArrayBufferViewsAsHostObjects(true);
  }

  _writeHostObject(object: object): void {
    const view = object as ArrayBufferView;
    const type = VIEW_TYPES.findIndex((C) => view.constructor === C || Object.getPrototypeOf(view) === C.prototype);
    const id = view.buffer instanceof SharedArrayBuffer ? this.shared.indexOf(view.buffer) : -1;
    if (view.buffer instanceof SharedArrayBuffer && id < 0) throw unsharedBuffer();
    if (id >= 0) {
      this.writeUint32(TAG_SHARED);
      this.writeUint32(id);
      this.writeUint32(Math.max(type, 0));
      this.writeUint32(view.byteOffset);
      this.writeUint32(view.byteLength);
      return;
    }
    this.writeUint32(Buffer.isBuffer(view) ? TAG_BUFFER : TAG_COPY);
    this.writeUint32(Math.max(type, 0));
    this.writeUint32(view.byteLength);
    this.writeRawBytes(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  }

  _getSharedArrayBufferId(buffer: SharedArrayBuffer): number {
    const id = this.shared.indexOf(buffer);
    if (id < 0) throw unsharedBuffer();
    return id;
  }
}

export class ChannelDeserializer extends v8.Deserializer {
  constructor(
    bytes: Uint8Array,
    private readonly shared: readonly SharedArrayBuffer[],
  ) {
    super(bytes);
    shared.forEach((buffer, id) => {
      this.transferArrayBuffer(id, buffer as unknown as ArrayBuffer);
    });
  }

  _readHostObject(): object {
    const tag = this.readUint32();
    if (tag === TAG_SHARED) {
      const buffer = this.shared[this.readUint32()];
      const C = VIEW_TYPES[this.readUint32()];
      const byteOffset = this.readUint32();
      const byteLength = this.readUint32();
      const per = C === DataView ? 1 : (C as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
      return new (C as unknown as new (b: ArrayBufferLike, o: number, l: number) => object)(
        buffer,
        byteOffset,
        byteLength / per,
      );
    }
    const C = VIEW_TYPES[this.readUint32()];
    const byteLength = this.readUint32();
    const raw = this.readRawBytes(byteLength) as Buffer;
    if (tag === TAG_BUFFER) return Buffer.from(raw);
    const copy = new ArrayBuffer(byteLength);
    new Uint8Array(copy).set(raw);
    const per = C === DataView ? 1 : (C as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    return new (C as unknown as new (b: ArrayBufferLike, o: number, l: number) => object)(copy, 0, byteLength / per);
  }
}

function unsharedBuffer(): PercoreError {
  return codedError(
    'ERR_CHANNEL_UNSHARED_BUFFER',
    'the message holds a SharedArrayBuffer the channel was not made with: list it in the `shared` option',
  );
}

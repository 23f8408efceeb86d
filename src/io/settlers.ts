// The settle functions of the promise being created, handed from one shared
// executor to the operation (Promise runs its executor synchronously). One
// executor for every call, rather than a closure per call: the read and write
// path allocates nothing it does not hand back.

/** Filled by `captureSettlers` while `new Promise(captureSettlers)` runs; read at once after. */
export const settlers: { resolve: (v: unknown) => void; reject: (e: unknown) => void } = {
  resolve: () => {},
  reject: () => {},
};

export function captureSettlers<T>(resolve: (v: T) => void, reject: (e: unknown) => void): void {
  settlers.resolve = resolve as (v: unknown) => void;
  settlers.reject = reject;
}

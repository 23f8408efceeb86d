// The core's abort handler (wired with `--use abort=assembly/trap/trap` in
// asconfig.json). A broken assertion means the core's own state is wrong: there
// is nothing sensible to return, so it traps and the JS caller gets a
// WebAssembly.RuntimeError. Trapping here, rather than importing env.abort,
// keeps the module's only import env.memory.
export function trap(message: usize, file: usize, line: u32, column: u32): void {
  unreachable();
}

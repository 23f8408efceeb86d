// What can go wrong in the simulated world, and how often. Every fault is a
// probability (per segment, per call or per connection) drawn from the run's
// PRNG, so a seed replays its faults exactly; a probability of 0 draws
// nothing, so turning a fault off does not shift the rest of a run.

/** Fault rates of a simulated world. All default to 0 (off) except latency. */
export interface Faults {
  /** One-way latency of a segment between two hosts, drawn uniformly in
   * [min, max] milliseconds (default 0.05 to 0.5; within a host a tenth). */
  latency?: { min: number; max: number };
  /** Per segment sent: it is cut short here, the rest following in another
   * segment (how the network splits a send; each cut is a short read at the
   * other end). Default 0.25; 0 delivers each send in one piece, as loopback does. */
  split?: number;
  /** Per segment: a latency spike, the segment (and, TCP keeping order,
   * everything behind it) held 10 to 200 times longer. */
  delay?: number;
  /** Per send: it moves fewer bytes than it could (a short write). */
  shortWrite?: number;
  /** Per receive: it returns fewer bytes than were queued (a short read). */
  shortRead?: number;
  /** Per data segment delivered: the connection is reset instead (both ends
   * see ECONNRESET). */
  reset?: number;
  /** Per connection attempt to a listening port: refused (ECONNREFUSED). */
  refuse?: number;
  /** Per accept: fails with EMFILE, ENFILE, ENOMEM or ENOBUFS; the
   * connection stays queued for the next accept, as in Linux. */
  acceptError?: number;
  /** Random partitions: every `every` ms (on average) a link between two
   * random hosts goes down, one way or both, for up to `duration` ms. */
  partitions?: { every: number; duration: number };
}

/** Named fault sets: `none` (only the legal nondeterminism of latencies and
 * how sends are split), `flaky` (short transfers and delays), `chaos`
 * (everything, resets and partitions included) and `swarm` (each of
 * chaos's faults on or off per seed, at a rate drawn between 0 and chaos's,
 * so that different seeds explore different mixes: swarm testing, as
 * TigerBeetle's VOPR draws its fault probabilities from the seed). */
export const FAULT_PROFILES: Readonly<Record<string, Faults>> = {
  none: {},
  flaky: { delay: 0.02, shortWrite: 0.2, shortRead: 0.2, acceptError: 0.05 },
  chaos: {
    delay: 0.05,
    shortWrite: 0.3,
    shortRead: 0.3,
    reset: 0.002,
    refuse: 0.05,
    acceptError: 0.1,
    partitions: { every: 2000, duration: 1500 },
  },
  swarm: {},
};

/** Faults with every field filled in. */
export interface FaultRates {
  latencyMin: number;
  latencyMax: number;
  split: number;
  delay: number;
  shortWrite: number;
  shortRead: number;
  reset: number;
  refuse: number;
  acceptError: number;
  partitionEvery: number;
  partitionDuration: number;
}

/** Faults for `swarm`: each of chaos's on with probability 1/2, at a rate up to chaos's. */
function swarm(draw: () => number): Faults {
  const chaos = FAULT_PROFILES.chaos;
  const pick = (max: number | undefined): number => (draw() < 0.5 ? 0 : draw() * (max ?? 0));
  return {
    delay: pick(chaos.delay),
    shortWrite: pick(chaos.shortWrite),
    shortRead: pick(chaos.shortRead),
    reset: pick(chaos.reset),
    refuse: pick(chaos.refuse),
    acceptError: pick(chaos.acceptError),
    partitions: draw() < 0.5 ? undefined : chaos.partitions,
  };
}

/** The rates of `faults` (a profile name or rates); `draw` (uniform in [0, 1))
 * is the run's PRNG, which `swarm` draws its rates from. */
export function faultRates(faults: Faults | string | undefined, draw: () => number): FaultRates {
  let f: Faults;
  if (faults === 'swarm') f = swarm(draw);
  else if (typeof faults === 'string') {
    const profile = FAULT_PROFILES[faults];
    if (profile === undefined)
      throw new TypeError(
        `percore sim: unknown fault profile '${faults}' (known: ${Object.keys(FAULT_PROFILES).join(', ')})`,
      );
    f = profile;
  } else f = faults ?? {};
  const rate = (name: string, v: number | undefined): number => {
    const p = v ?? 0;
    if (!(p >= 0 && p <= 1)) throw new RangeError(`percore sim: faults.${name} must be a probability, got ${p}`);
    return p;
  };
  const latencyMin = f.latency?.min ?? 0.05;
  const latencyMax = f.latency?.max ?? 0.5;
  if (!(latencyMin >= 0 && latencyMax >= latencyMin))
    throw new RangeError('percore sim: faults.latency needs 0 <= min <= max');
  return {
    latencyMin,
    latencyMax,
    split: rate('split', f.split ?? 0.25),
    delay: rate('delay', f.delay),
    shortWrite: rate('shortWrite', f.shortWrite),
    shortRead: rate('shortRead', f.shortRead),
    reset: rate('reset', f.reset),
    refuse: rate('refuse', f.refuse),
    acceptError: rate('acceptError', f.acceptError),
    partitionEvery: f.partitions?.every ?? 0,
    partitionDuration: f.partitions?.duration ?? 0,
  };
}

// The sim project: API tests on the simulation host (src/sim/), whose
// runtimes outside simulate() share one simulated machine in real time
// (src/sim/ambient.ts). Runtimes read PERCORE_DRIVER.
process.env.PERCORE_DRIVER = 'sim';

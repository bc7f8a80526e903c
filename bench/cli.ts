/**
 * `npm run bench -- <name> [flags]`: one benchmark (compiled to dist/bench/).
 *   fanout, ingest, impaired   the harness (bench/harness.ts): the light load generator against
 *                              srt-relay or any SRT server, with --baseline floor,slt side by side
 *   join                       time to first byte / keyframe, failover gap (bench/join.ts)
 *   admission                  first byte of a new viewer with a webhook: held admission vs retry (bench/admission.ts)
 *   throughput                 one SRT connection as fast as libsrt takes it (bench/throughput.ts)
 *   fanout-classic             the first fan-out bench: srt-blast publisher, viewers.js processes (bench/fanout.ts)
 *   cluster                    fan-out through nginx to 1 vs N nodes (bench/cluster.ts, the cluster work)
 *   soak                       memory and handles over a long run with viewer churn (bench/soak.ts)
 *   hop-loss                   one impaired hop: srt-relay vs srt-live-transmit as receiver (bench/hop-loss.ts)
 *   srtla                      SRTLA bonded ingest vs plain SRT ingest: relay CPU per Gbit (bench/srtla.ts)
 *   recording                  4 streams × 10 Mbit/s, 20 viewers, with and without recording (bench/recording.ts)
 *   profile                    perf samples of the relay in fan-out: JavaScript vs native code per thread (bench/profile.ts)
 *   chaos                      random faults (worker kills, floods, truncated file, Redis, node kills) while viewers watch (bench/chaos.ts)
 *   plot                       re-render the figures of a result file: plot bench/results/<file>.json
 * See bench/README.md for the flags and what the numbers mean. New harness scenarios are added
 * to SCENARIOS in bench/harness.ts; new stand-alone benches to SCRIPTS here.
 */
const HARNESS = new Set(['fanout', 'ingest', 'impaired']);
const SCRIPTS: Record<string, string> = {
  throughput: './throughput.js',
  join: './join.js',
  admission: './admission.js',
  'fanout-classic': './fanout.js',
  plot: './plot.js',
  cluster: './cluster.js', // bench/cluster.ts: fan-out through the nginx UDP load balancer to 1 vs N nodes
  soak: './soak.js',
  'hop-loss': './hop-loss.js',
  srtla: './srtla.js', // bench/srtla.ts: SRTLA bonded ingest vs plain SRT ingest, relay CPU per Gbit
  dashboard: './dashboard.js', // bench/dashboard.ts: node CPU with 3 dashboard tabs open, page load times
  recording: './recording.js', // bench/recording.ts: fanout with and without recording every stream
  profile: './profile.js', // bench/profile.ts: perf samples of the relay in fan-out: JS vs native by thread
  chaos: './chaos.js', // bench/chaos.ts: random faults against 1 node and a 3-node cluster while viewers watch (issue 13)
};

const name = process.argv[2];
if (name !== undefined && HARNESS.has(name)) {
  const { main } = await import('./harness.js');
  await main(process.argv.slice(2));
} else if (name !== undefined && SCRIPTS[name] !== undefined) {
  // The bench parses process.argv itself: drop the bench name.
  process.argv.splice(2, 1);
  await import(SCRIPTS[name]!);
} else {
  process.stderr.write(`usage: npm run bench -- <${[...HARNESS, ...Object.keys(SCRIPTS)].join('|')}> [flags]   (see bench/README.md)\n`);
  process.exitCode = name === undefined || name === '-h' || name === '--help' ? 0 : 2;
}

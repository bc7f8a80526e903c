/**
 * `npm run bench -- <bench> [flags]`: runs one benchmark (compiled to dist/bench/).
 *   throughput   one SRT connection as fast as libsrt takes it: C floor vs the addon
 *   fanout       one publisher → N viewers: srt-relay vs the C floor relay
 * See bench/README.md for the flags and what the numbers mean.
 */
const BENCHES: Record<string, string> = {
  throughput: './throughput.js',
  fanout: './fanout.js',
};

const name = process.argv[2];
if (name === undefined || BENCHES[name] === undefined) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [flags]   (see bench/README.md)\n`);
  process.exitCode = name === undefined || name === '-h' || name === '--help' ? 0 : 2;
} else {
  // The bench parses process.argv itself: drop the bench name.
  process.argv.splice(2, 1);
  await import(BENCHES[name]!);
}

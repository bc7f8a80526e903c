/**
 * PM2 ecosystem file: a small srt-relay cluster on one host. The settings live in
 * ecosystem.config.cjs (CommonJS, which every PM2 5.3+ loads); this ES module re-exports them for
 * `pm2 start ecosystem.config.js` on Node.js >= 22.12, where PM2's require() can load ES modules.
 * On Node.js 20 run `pm2 start ecosystem.config.cjs`.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const config = require('./ecosystem.config.cjs');

export const apps = config.apps;
export default config;

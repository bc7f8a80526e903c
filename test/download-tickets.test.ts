/** DownloadTickets (src/api/download-tickets.ts): one path, a lifetime, a bound on how many are kept. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DownloadTickets } from '../src/api/download-tickets.js';

test('a download ticket allows only the path it was issued for, only until it expires, and the oldest go when the table is full', () => {
  let now = 1_000_000;
  const tickets = new DownloadTickets({ ttlMs: 60_000, capacity: 3, now: () => now });
  const a = tickets.issue('cam/a.ts');
  assert.match(a.ticket, /^[A-Za-z0-9_-]{22}$/, '128 random bits, base64url');
  assert.equal(a.expiresAt, now + 60_000);
  assert.equal(tickets.allows(a.ticket, 'cam/a.ts'), true);
  assert.equal(tickets.allows(a.ticket, 'cam/a.ts'), true, 'again (a resumed or ranged download)');
  assert.equal(tickets.allows(a.ticket, 'cam/b.ts'), false, 'another path');
  assert.equal(tickets.allows(a.ticket, 'cam/a.t'), false, 'a prefix of the path');
  assert.equal(tickets.allows('x'.repeat(22), 'cam/a.ts'), false, 'an unknown ticket');
  assert.notEqual(tickets.issue('cam/a.ts').ticket, a.ticket, 'each ticket is new');
  now += 60_000;
  assert.equal(tickets.allows(a.ticket, 'cam/a.ts'), false, 'expired');
  for (let i = 0; i < 5; i++) tickets.issue(`cam/${i}.ts`);
  assert.equal(tickets.size, 3, 'bounded');
});

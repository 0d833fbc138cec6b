// Sends identify, group and track calls through RudderStack's Node SDK with its default options (gzip on).
//
// Settings come from the environment: SDK (the package name under NODE_PATH: rudder-sdk-node-2 or
// rudder-sdk-node-3), HOST, WRITE_KEY, ACCOUNT, USERS, EVENTS (track calls per user and event name). Every
// call is dated 2026-01-15 and has a message id made from its account, user and position, so that sending
// again sends the same messages. A user who tracks before their group call ("late") shows that events of
// users not yet linked to an account are kept and attributed later. Exits non-zero if any upload fails.
'use strict';

const Analytics = require(process.env.SDK);

const host = process.env.HOST;
const key = process.env.WRITE_KEY;
const account = process.env.ACCOUNT;
const users = Number(process.env.USERS || '3');
const events = Number(process.env.EVENTS || '5');
const timestamp = new Date(Date.UTC(2026, 0, 15, 10, 0, 0));

const client = new Analytics(key, { dataPlaneUrl: host });
const errors = [];
const done = (err) => {
  if (err) errors.push(String(err));
};

// `flush()` sends at most one batch (`flushAt` messages): flush until the queue is empty.
async function flushAll() {
  do {
    await client.flush();
  } while (client.queue.length > 0);
}

async function main() {
  for (let u = 0; u < users; u++) {
    const userId = `${account}-user-${u}`;
    client.identify(
      {
        userId,
        traits: { email: `${userId}@example.com`, name: `User ${u}`, title: 'Analyst' },
        timestamp,
        messageId: `${userId}-identify`,
      },
      done,
    );
    client.group(
      {
        userId,
        groupId: account,
        traits: { name: `Account ${account}`, plan: 'pro', seats: 25 },
        timestamp,
        messageId: `${userId}-group`,
      },
      done,
    );
    for (let i = 0; i < events; i++) {
      for (const event of ['Report Exported', 'Dashboard Viewed']) {
        client.track(
          { userId, event, properties: { i }, timestamp, messageId: `${userId}-${event}-${i}` },
          done,
        );
      }
    }
  }
  await flushAll();
  const late = `${account}-late`;
  for (let i = 0; i < 2; i++) {
    client.track(
      { userId: late, event: 'Report Exported', properties: {}, timestamp, messageId: `${late}-${i}` },
      done,
    );
  }
  await flushAll();
  client.group({ userId: late, groupId: account, traits: {}, timestamp, messageId: `${late}-group` }, done);
  await flushAll();
}

main().then(
  () => {
    if (errors.length > 0) {
      console.error('upload errors:', errors);
      process.exit(1);
    }
    console.log('sent');
    // The SDK's flush timer would otherwise keep the process alive.
    process.exit(0);
  },
  (err) => {
    console.error('upload failed:', err);
    process.exit(1);
  },
);

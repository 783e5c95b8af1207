// matrix-js-sdk as a real client, driven by tests/api/test_js_sdk.py (run with Node 22).
//
//   node client.mjs '{"baseUrl": ..., "userId": ..., "accessToken": ..., "deviceId": ...}'
//
// Writes one JSON object per line on stdout, each with a "step":
//   prepared        startClient() reached the PREPARED sync state (or "ok": false and why not)
//                   and the push rules the client holds, as rule ids per kind
//   (then it reads one JSON line on stdin: {"room_id", "last_event_id", "expect": {total, highlight}})
//   counts          the room's unread notification counts once the last event has arrived
//   (then it waits for one more line on stdin, {"read": true}, before it reads the room)
//   after_receipt   the counts after sendReadReceipt(last event) and the next /sync
//   stopped         stopClient() returned
// The SDK's own logging goes to stderr.

import { format } from "node:util";
import { createInterface } from "node:readline";

// Before the SDK is loaded (its logger binds console methods when it loads), so that stdout
// carries only the JSON lines.
for (const name of ["log", "info", "debug", "warn", "error", "trace"]) {
  console[name] = (...args) => process.stderr.write(format(...args) + "\n");
}
const sdk = await import("matrix-js-sdk");

const PREPARED_TIMEOUT_MS = 20_000;
const COUNTS_TIMEOUT_MS = 15_000;
const RECEIPT_TIMEOUT_MS = 15_000;
const STDIN_TIMEOUT_MS = 30_000;
const OVERALL_TIMEOUT_MS = 100_000;

function report(step, fields) {
  process.stdout.write(JSON.stringify({ step, ...fields }) + "\n");
}

const overall = setTimeout(() => {
  report("timeout", { error: `client.mjs still running after ${OVERALL_TIMEOUT_MS} ms` });
  process.exit(3);
}, OVERALL_TIMEOUT_MS);
overall.unref();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

const config = JSON.parse(process.argv[2]);

// Every request the SDK makes, with its answer, so that a failure can say which call failed.
const requests = [];
async function recordingFetch(input, init) {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const method = init?.method ?? (input instanceof Request ? input.method : "GET");
  const entry = { method, path: url.pathname, status: null };
  requests.push(entry);
  try {
    const response = await fetch(input, init);
    entry.status = response.status;
    return response;
  } catch (error) {
    entry.status = `${error.name}: ${error.message}`;
    throw error;
  }
}
const failedRequests = () =>
  requests
    .filter((r) => r.status !== null && !(typeof r.status === "number" && r.status < 400))
    .filter((r) => r.status !== "AbortError: This operation was aborted")
    .slice(-10)
    .map((r) => `${r.method} ${r.path} -> ${r.status}`);

const client = sdk.createClient({
  baseUrl: config.baseUrl,
  accessToken: config.accessToken,
  userId: config.userId,
  deviceId: config.deviceId,
  fetchFn: recordingFetch,
});

const syncStates = [];
let syncs = 0;
client.on(sdk.ClientEvent.Sync, (state) => {
  syncStates.push(state);
  syncs += 1;
});

async function finish(code) {
  client.stopClient();
  report("stopped", { code });
  process.exit(code);
}

const counts = (room) => ({
  total: room.getUnreadNotificationCount(sdk.NotificationCountType.Total),
  highlight: room.getUnreadNotificationCount(sdk.NotificationCountType.Highlight),
});

// 1. Start as Element does and wait for the first sync to be processed.
await client.startClient({ initialSyncLimit: 10 });
const prepared = await until(() => syncStates.includes(sdk.SyncState.Prepared), PREPARED_TIMEOUT_MS);
if (!prepared) {
  report("prepared", {
    ok: false,
    error:
      `no PREPARED sync state within ${PREPARED_TIMEOUT_MS / 1000} s ` +
      "(matrix-js-sdk fetches GET /pushrules/ before its first /sync and retries it forever)",
    sync_states: syncStates,
    failed_requests: failedRequests(),
    requests: requests.slice(-20).map((r) => `${r.method} ${r.path} -> ${r.status}`),
  });
  await finish(1);
}
const pushRules = {};
for (const [kind, rules] of Object.entries(client.pushRules?.global ?? {})) {
  pushRules[kind] = (rules ?? []).map((rule) => rule.rule_id);
}
report("prepared", {
  ok: true,
  sync_states: syncStates,
  push_rules: client.pushRules ? pushRules : null,
  rooms: client.getRooms().map((room) => room.roomId),
  failed_requests: failedRequests(),
});

// 2. The Python side sends the messages, then says which event is the last one.
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function instruction(step) {
  const line = await Promise.race([lines.next(), sleep(STDIN_TIMEOUT_MS).then(() => null)]);
  if (!line || line.done) {
    report(step, { error: `no instruction on stdin within ${STDIN_TIMEOUT_MS / 1000} s` });
    await finish(1);
  }
  return JSON.parse(line.value);
}
const { room_id: roomId, last_event_id: lastEventId, expect } = await instruction("counts");

const lastEvent = () => client.getRoom(roomId)?.findEventById(lastEventId);
const sawLast = await until(() => lastEvent() !== undefined, COUNTS_TIMEOUT_MS);
if (!sawLast) {
  report("counts", {
    saw_last_event: false,
    error: `event ${lastEventId} never reached the client's timeline of ${roomId}`,
    failed_requests: failedRequests(),
  });
  await finish(1);
}
const room = client.getRoom(roomId);
// Counts arrive with the events (same /sync); give a slower server a moment all the same.
await until(() => {
  const now = counts(room);
  return now.total === expect.total && now.highlight === expect.highlight;
}, 5_000);
report("counts", { saw_last_event: true, ...counts(room), failed_requests: failedRequests() });

// 3. Once told to (the Python side looks at the server's counts first), read up to the last
// event; the server's next /sync answer should clear the counts.
await instruction("after_receipt");
const syncsBefore = syncs;
try {
  await client.sendReadReceipt(lastEvent());
} catch (error) {
  report("after_receipt", { error: `sendReadReceipt failed: ${error}`, ...counts(room) });
  await finish(1);
}
const cleared = await until(() => {
  const now = counts(room);
  return syncs > syncsBefore && now.total === 0 && now.highlight === 0;
}, RECEIPT_TIMEOUT_MS);
report("after_receipt", {
  ...counts(room),
  cleared,
  syncs_since_receipt: syncs - syncsBefore,
  failed_requests: failedRequests(),
});

await finish(0);

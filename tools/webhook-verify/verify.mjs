// Usage: node verify.mjs SECRET CAPTURE.jsonl
// Each line of the capture is {"webhook-id", "webhook-timestamp", "webhook-signature", "body"} as a receiver saw it.
// Prints {"verified": n, "failed": n, "errors": [...]} and exits 1 when any line fails.
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const [secret, capture] = process.argv.slice(2);
if (!secret || !capture) {
  console.error("usage: node verify.mjs SECRET CAPTURE.jsonl");
  process.exit(2);
}
const webhook = new Webhook(secret);
let verified = 0;
const errors = [];
for (const line of readFileSync(capture, "utf8").split("\n")) {
  if (!line.trim()) continue;
  const { body, ...headers } = JSON.parse(line);
  try {
    webhook.verify(body, headers);
    verified++;
  } catch (e) {
    errors.push(`${headers["webhook-id"]}: ${e.message}`);
  }
}
console.log(JSON.stringify({ verified, failed: errors.length, errors: errors.slice(0, 5) }));
process.exit(errors.length === 0 ? 0 : 1);

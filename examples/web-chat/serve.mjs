// Serves the chat's files, and /config.json (the Orbit URL and the app's
// publishable key, from ORBIT_URL and PK: not secrets) on PORT.
import { readFile } from 'node:fs/promises';
import http from 'node:http';

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };
const config = JSON.stringify({ url: process.env.ORBIT_URL, publishableKey: process.env.PK });
const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/config.json') return res.writeHead(200, { 'content-type': 'application/json' }).end(config);
  const file = path === '/' ? 'index.html' : path.slice(1);
  if (!['index.html', 'app.js'].includes(file)) return res.writeHead(404).end();
  const body = await readFile(new URL(`./public/${file}`, import.meta.url));
  res.writeHead(200, { 'content-type': types[file.slice(file.lastIndexOf('.'))] }).end(body);
});
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () =>
  console.log(`web chat on http://127.0.0.1:${server.address().port}`));

// The ceiling: a bare node:http server that reads the body and answers 200 with a small JSON.
// With a file argument it answers every request with that file's bytes instead (the floor
// for /metrics: the same body, rendered ahead of time, from a server doing nothing else; a
// `.gz` file goes out as it is with Content-Encoding: gzip).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const body = process.argv[2] ? readFileSync(process.argv[2]) : undefined;
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (body) {
      const gz = process.argv[2].endsWith('.gz') ? { 'content-encoding': 'gzip' } : {};
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': body.length, ...gz });
      res.end(body);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"accepted":1}');
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

// A pass-through HTTP proxy in front of a draftd that counts the request body
// bytes the browser really sent, per method: what a resumed upload sent again
// shows there, and nowhere in the service (which keeps what arrived).
import { createServer, request } from 'node:http';

/**
 * @param {string} target  the service's base URL (http://127.0.0.1:port)
 * @returns {Promise<{baseUrl: string, sent: Record<string, number>, close: () => Promise<void>}>}
 */
export async function byteProxy(target) {
  const { hostname, port } = new URL(target);
  const sent = {};
  const server = createServer((req, res) => {
    const upstream = request({ hostname, port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.on('data', (chunk) => (sent[req.method] = (sent[req.method] ?? 0) + chunk.length));
    // A request the browser gives up is cut for the service too, as it would be without us.
    req.on('close', () => {
      if (!req.complete) upstream.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${server.address().port}`,
    sent,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

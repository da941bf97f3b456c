// Peer for bench/run.sh: the plainest Node.js WebSocket echo server, with the `ws`
// package and its defaults (no compression). Every text or binary message is sent back
// as it came. Usage: node echo.js <host:port>
'use strict';
const { WebSocketServer } = require('ws');

const [host, port] = (process.argv[2] || '127.0.0.1:9001').split(':');
const wss = new WebSocketServer({ host, port: Number(port), perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`node-ws echo listening on ${host}:${port}`));

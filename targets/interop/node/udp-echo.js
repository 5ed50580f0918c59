// A UDP echo server on Node's dgram module: each message sent back to its sender.
// usage: node udp-echo.js PORT [HOST]
'use strict';
const dgram = require('dgram');

const port = Number(process.argv[2]);
const host = process.argv[3] || '127.0.0.1';
const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
socket.on('message', (message, peer) => socket.send(message, peer.port, peer.address));
socket.bind(port, host);

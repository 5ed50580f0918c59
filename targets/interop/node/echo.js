// A TCP echo server on Node's net module: every socket piped into itself.
// usage: node echo.js PORT
//
// listen() without a host takes every address, IPv6 and IPv4 alike ([::]:PORT).
// allowHalfOpen keeps our side open after the client's FIN, so pipe() can write
// the rest of the echo and then end() the socket itself.
'use strict';
const net = require('net');

const port = Number(process.argv[2]);
const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  // A peer that resets would otherwise be an unhandled 'error' and end the process.
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});
server.listen(port);

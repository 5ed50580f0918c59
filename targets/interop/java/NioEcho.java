// A TCP echo server on java.nio: one thread, one Selector, non-blocking channels.
// usage: java NioEcho PORT [HOST]
//
// Bound the usual way, to an InetSocketAddress.  The JVM opens an AF_INET6 socket
// even for an IPv4 address, so the kernel lists this listener as
// [::ffff:127.0.0.1]:PORT.
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Iterator;

public final class NioEcho {
    private static final class Connection {
        final ByteBuffer pending = ByteBuffer.allocate(64 * 1024);
        boolean eof;
    }

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(args[0]);
        String host = args.length > 1 ? args[1] : "127.0.0.1";
        Selector selector = Selector.open();
        ServerSocketChannel server = ServerSocketChannel.open();
        server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        server.bind(new InetSocketAddress(host, port), 1024);
        server.configureBlocking(false);
        server.register(selector, SelectionKey.OP_ACCEPT);
        while (true) {
            selector.select();
            Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
            while (keys.hasNext()) {
                SelectionKey key = keys.next();
                keys.remove();
                try {
                    if (key.isAcceptable()) {
                        accept(server, selector);
                    } else {
                        serve(key);
                    }
                } catch (IOException e) {
                    // A reset or broken peer ends that connection, not the server.
                    key.channel().close();
                }
            }
        }
    }

    private static void accept(ServerSocketChannel server, Selector selector) throws IOException {
        SocketChannel client;
        while ((client = server.accept()) != null) {
            client.configureBlocking(false);
            client.register(selector, SelectionKey.OP_READ, new Connection());
        }
    }

    // Reading pauses while the buffer is full (the peer is not taking its echo),
    // and after the peer's EOF the connection closes once everything is written.
    private static void serve(SelectionKey key) throws IOException {
        SocketChannel client = (SocketChannel) key.channel();
        Connection conn = (Connection) key.attachment();
        if (key.isReadable() && client.read(conn.pending) < 0) {
            conn.eof = true;
        }
        conn.pending.flip();
        client.write(conn.pending);
        conn.pending.compact();
        boolean unsent = conn.pending.position() > 0;
        if (conn.eof && !unsent) {
            client.close();
            return;
        }
        int ops = unsent ? SelectionKey.OP_WRITE : 0;
        if (!conn.eof && conn.pending.hasRemaining()) {
            ops |= SelectionKey.OP_READ;
        }
        key.interestOps(ops);
    }
}

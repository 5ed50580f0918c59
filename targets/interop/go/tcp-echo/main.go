// A TCP echo server in Go: a goroutine per connection copying the stream back.
// usage: tcp-echo PORT
//
// ":"+port listens on every address, IPv6 and IPv4 alike ([::]:PORT).
package main

import (
	"io"
	"log"
	"net"
	"os"
)

func main() {
	listener, err := net.Listen("tcp", ":"+os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	for {
		conn, err := listener.Accept()
		if err != nil {
			log.Print(err)
			continue
		}
		go echo(conn.(*net.TCPConn))
	}
}

func echo(conn *net.TCPConn) {
	defer conn.Close()
	// io.Copy returns at the client's EOF once everything read has been written;
	// CloseWrite then sends our FIN, as the client did.
	if _, err := io.Copy(conn, conn); err != nil {
		return
	}
	conn.CloseWrite()
}

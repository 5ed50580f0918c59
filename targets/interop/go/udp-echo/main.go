// A UDP echo server in Go: each datagram written back to the address it came from.
// usage: udp-echo PORT [HOST]
package main

import (
	"log"
	"net"
	"os"
)

func main() {
	host := "127.0.0.1"
	if len(os.Args) > 2 {
		host = os.Args[2]
	}
	conn, err := net.ListenPacket("udp", net.JoinHostPort(host, os.Args[1]))
	if err != nil {
		log.Fatal(err)
	}
	buffer := make([]byte, 65536)
	for {
		n, peer, err := conn.ReadFrom(buffer)
		if err != nil {
			log.Print(err)
			continue
		}
		if _, err := conn.WriteTo(buffer[:n], peer); err != nil {
			log.Print(err)
		}
	}
}

"""The suite's side of the wire: stream and datagram clients, seeded payloads, the kernel's
socket table, and the one-byte probe that asks whether a server answers at all."""

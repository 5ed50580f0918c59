"""Packet capture on the worker's loopback: the kernel filter, the capture process that keeps
raw records, the pcap files, and the packet ladder drawn from them."""

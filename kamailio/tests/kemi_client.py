#!/usr/bin/env python3
"""Sends one INVITE over UDP to the KEMI test instance and prints the reply's status line."""
import socket
import sys

port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(5)
lp = s.getsockname()[1]
msg = (
    "INVITE sip:+12195550714;tgrp=wacall;trunk-context=byoc.example.com@sip.example.test SIP/2.0\r\n"
    f"Via: SIP/2.0/UDP 127.0.0.1:{lp};branch=z9hG4bKkemi1;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:+12145551869@wa.meta.vc>;tag=k1\r\n"
    "To: <sip:+12195550714@sip.example.test>\r\n"
    "Call-ID: kemi-test-1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n\r\n"
)
s.sendto(msg.encode(), ("127.0.0.1", port))
try:
    data, _ = s.recvfrom(65535)
    print(data.decode(errors="replace").split("\r\n")[0])
except socket.timeout:
    print("timeout")

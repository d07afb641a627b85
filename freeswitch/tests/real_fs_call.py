#!/usr/bin/env python3
"""A call from "Meta" into a real FreeSWITCH running mod_wacall, with audio checked at both ends.

Plays Meta's part: starts tools/meta-peer (ice-lite, DTLS server, waits for the maiden packet, sends a tone, records)
and sends a Meta-shaped INVITE (R-URI user parameters, x-wa-meta-* headers, the peer's DTLS+ICE offer) over UDP to
FreeSWITCH. The dialplan runs wacall_from_meta + wacall_relay + bridge to a second local profile whose dialplan
answers, plays a tone and records. Run by hand against a FreeSWITCH built outside the repository (VERIFIED.md).

usage: real_fs_call.py METAPEER FS_SIP_ADDR CALLED RECORDING_DIR [seconds [dtls|sdes]]
"""
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
import uuid
import wave


def tone_level(path, hz):
    """(level at hz, total rms) of a WAV file, by Goertzel over its middle part."""
    w = wave.open(path)
    n, rate, ch = w.getnframes(), w.getframerate(), w.getnchannels()
    raw = w.readframes(n)
    samples = [int.from_bytes(raw[i:i + 2], "little", signed=True) for i in range(0, len(raw), 2 * ch)]
    samples = samples[len(samples) // 4: 3 * len(samples) // 4] or [0]
    k = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    amp = 2 * math.sqrt(max(power, 0)) / len(samples)
    rms = math.sqrt(sum(x * x for x in samples) / len(samples))
    return amp, rms, len(samples) / rate


def start_meta_peer(peer_bin, bind, secs, tag, mode="dtls"):
    """Start tools/meta-peer as Meta (440 Hz); returns (process, info file, remote file, recording, summary)."""
    info, remote = f"/tmp/wacall-{tag}.info", f"/tmp/wacall-{tag}.remote"
    rec, summary = f"/tmp/wacall-{tag}-meta.wav", f"/tmp/wacall-{tag}.summary"
    peer = subprocess.Popen([peer_bin, "--mode", mode, "--bind", bind, "--info-out", info, "--remote-in", remote,
                             "--tone", "440", "--duration", str(secs), "--record", rec, "--summary", summary],
                            stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    for _ in range(500):
        if os.path.exists(info):
            break
        time.sleep(0.01)
    return peer, info, remote, rec, summary


def tell_meta_peer(remote, sdp):
    """Give meta-peer our side from an SDP: media address, the fingerprint it must verify, or our SDES key."""
    m = re.search(r"^m=audio (\d+)", sdp, re.M)
    c = re.search(r"^c=IN IP4 (\S+)", sdp, re.M)
    fp = re.search(r"^a=fingerprint:(.*)$", sdp, re.M)
    key = re.search(r"^a=crypto:\d+ (\S+) inline:([^|\s]+)", sdp, re.M)
    json.dump({"addr": f"{c.group(1)}:{m.group(1)}", "fingerprint": fp.group(1).strip() if fp else None,
               "sdes": {"suite": key.group(1), "key": key.group(2)} if key else None},
              open(remote + ".tmp", "w"))
    os.rename(remote + ".tmp", remote)


def main():
    peer_bin, fs_addr, called, rec_dir = sys.argv[1:5]
    secs = int(sys.argv[5]) if len(sys.argv) > 5 else 6
    mode = sys.argv[6] if len(sys.argv) > 6 else "dtls"
    host, port = fs_addr.split(":")
    tag = uuid.uuid4().hex[:8]
    peer, info, remote, rec, summary = start_meta_peer(peer_bin, "127.0.0.1:16300", secs, f"in-{tag}", mode)
    offer = json.load(open(info))["sdp"]

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 16110))
    s.settimeout(10)
    call_id = f"{tag}@wa.meta.vc"
    ruri = f"sip:{called};tgrp=wa-trunk;trunk-context=example.com@{fs_addr}"
    common = (f"From: <sip:+447700900123@wa.meta.vc>;tag={tag}\r\nCall-ID: {call_id}\r\nMax-Forwards: 70\r\n")
    invite = (f"INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:16110;branch=z9hG4bK{tag}1;rport\r\n{common}"
              f"To: <sip:{called}@{fs_addr}>\r\nCSeq: 1 INVITE\r\nContact: <sip:+447700900123@127.0.0.1:16110>\r\n"
              f"x-wa-meta-wacid: wacid.{tag}\r\nx-wa-meta-cta-payload: relay-test\r\n"
              f"Content-Type: application/sdp\r\nContent-Length: {len(offer)}\r\n\r\n{offer}")
    s.sendto(invite.encode(), (host, int(port)))
    to_hdr, answer = None, None
    while True:
        msg = s.recv(65535).decode(errors="replace")
        first = msg.split("\r\n", 1)[0]
        print("<-", first)
        code = int(first.split()[1])
        if code >= 200:
            to_hdr = re.search(r"^To: (.*)$", msg, re.M | re.I).group(1).strip()
            answer = msg.split("\r\n\r\n", 1)[1] if code == 200 else None
            ack = (f"ACK {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:16110;branch=z9hG4bK{tag}{'2' if code == 200 else '1'}"
                   f"\r\n{common}To: {to_hdr}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")
            s.sendto(ack.encode(), (host, int(port)))
            break
    if not answer:
        peer.kill()
        sys.exit(f"call failed: {first}")
    print("-- FreeSWITCH's answer (through mod_wacall):\n" + answer)
    tell_meta_peer(remote, answer)
    # Wait for the call: answer FreeSWITCH's BYE if the PBX side ends first, else send ours when the peer is done.
    s.settimeout(0.2)
    fs_hung_up = False
    while peer.poll() is None and not fs_hung_up:
        try:
            msg = s.recv(65535).decode(errors="replace")
        except socket.timeout:
            continue
        if msg.startswith("BYE "):
            print("<-", msg.split("\r\n", 1)[0])
            hdrs = "\r\n".join(l for l in msg.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
                               if l.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq"))
            s.sendto(f"SIP/2.0 200 OK\r\n{hdrs}\r\nContent-Length: 0\r\n\r\n".encode(), (host, int(port)))
            fs_hung_up = True
    peer.wait(timeout=secs + 30)
    s.settimeout(5)
    bye = (f"BYE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:16110;branch=z9hG4bK{tag}3\r\n{common}"
           f"To: {to_hdr}\r\nCSeq: 2 BYE\r\nx-wa-meta-call-duration: {secs}\r\nContent-Length: 0\r\n\r\n")
    if not fs_hung_up:
        s.sendto(bye.encode(), (host, int(port)))
    try:
        if fs_hung_up:
            raise socket.timeout
        while True:
            msg = s.recv(65535).decode(errors="replace")
            print("<-", msg.split("\r\n", 1)[0])
            if "CSeq: 2 BYE" in msg:
                break
    except socket.timeout:
        if not fs_hung_up:
            print("no answer to our BYE")
    print("-- meta-peer summary:", open(summary).read())
    amp, rms, dur = tone_level(rec, 1000)
    print(f"-- Meta side heard 1000 Hz from FreeSWITCH: level {amp:.0f} (rms {rms:.0f}) over {dur:.1f} s")
    time.sleep(1)
    recs = sorted((os.path.join(rec_dir, f) for f in os.listdir(rec_dir) if f.endswith(".wav")), key=os.path.getmtime)
    if recs:
        amp2, rms2, dur2 = tone_level(recs[-1], 440)
        print(f"-- FreeSWITCH heard 440 Hz from Meta's side: level {amp2:.0f} (rms {rms2:.0f}) over {dur2:.1f} s "
              f"({recs[-1]})")
        ok = amp > 500 and amp2 > 500
    else:
        ok = False
        print("-- no FreeSWITCH recording")
    print("RESULT", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

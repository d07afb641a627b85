#!/usr/bin/env python3
"""A business-initiated call from a real FreeSWITCH running mod_wacall to "Meta", with audio checked both ways.

FreeSWITCH originates (over ESL) an SDES call from a second local profile (the PBX user) to `wa<number>` on the
wacall profile; the dialplan runs wacall_to_meta + `wacall_relay to-meta` + bridge to this script's SIP UAS,
which plays Meta: it answers with the SDP of tools/meta-peer (ice-lite, DTLS server, waits for the maiden packet,
sends a 440 Hz tone, records). The PBX user plays 1000 Hz and records. Run by hand against a FreeSWITCH built
outside the repository (see ../VERIFIED.md).

usage: real_fs_call_to_meta.py METAPEER ESL_ADDR CALLED RECORDING_DIR [seconds]
"""
import json
import os
import socket
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from real_fs_call import start_meta_peer, tell_meta_peer, tone_level  # noqa: E402


def esl(addr, cmd):
    host, port = addr.split(":")
    s = socket.create_connection((host, int(port)))

    def read():
        buf = b""
        while b"\n\n" not in buf:
            buf += s.recv(4096)
        head, _, rest = buf.partition(b"\n\n")
        n = int(dict(l.split(": ", 1) for l in head.decode().splitlines() if ": " in l).get("Content-Length", 0))
        while len(rest) < n:
            rest += s.recv(4096)
        return rest[:n].decode()

    read()
    s.sendall(b"auth ClueCon\n\n")
    read()
    s.sendall(cmd.encode() + b"\n\n")
    r = read()
    s.close()
    return r


def main():
    peer_bin, esl_addr, called, rec_dir = sys.argv[1:5]
    secs = int(sys.argv[5]) if len(sys.argv) > 5 else 6
    tag = uuid.uuid4().hex[:8]
    peer, info, remote, rec, summary = start_meta_peer(peer_bin, "127.0.0.1:16301", secs, f"out-{tag}")
    # Meta answers an offer with a=setup:passive (it is the DTLS server).
    answer = json.load(open(info))["sdp"].replace("a=setup:actpass", "a=setup:passive")

    uas = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uas.bind(("127.0.0.1", 16120))
    uas.settimeout(15)
    job = esl(esl_addr, "bgapi originate {origination_caller_id_number=1000,rtp_secure_media=true,"
                        f"execute_on_answer='record_session {rec_dir}/biz-{tag}.wav'}}"
                        f"sofia/wacall-pbx/wa{called.lstrip('+')}@127.0.0.1:16060 "
                        "&playback(tone_stream://%(5000,0,1000))")
    print("originate:", job.strip())

    def reply_to(msg, code_line, body=""):
        hdrs = [l for l in msg.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
                if l.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq", "record-route")]
        hdrs = [h + f";tag={tag}" if h.lower().startswith("to:") and "tag=" not in h else h for h in hdrs]
        extra = (f"Contact: <sip:{called}@127.0.0.1:16120>\r\nContent-Type: application/sdp\r\n" if body else "")
        return (f"SIP/2.0 {code_line}\r\n" + "\r\n".join(hdrs) + f"\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
                + body).encode()

    offer, src = None, None
    while offer is None:
        msg, src = uas.recvfrom(65535)
        msg = msg.decode(errors="replace")
        if msg.startswith("INVITE "):
            print("-> Meta got:", msg.split("\r\n", 1)[0])
            offer = msg.split("\r\n\r\n", 1)[1]
            invite = msg
    print("-- the offer FreeSWITCH sent to Meta (through mod_wacall):\n" + offer)
    tell_meta_peer(remote, offer)
    uas.sendto(reply_to(invite, "100 Trying"), src)
    uas.sendto(reply_to(invite, "200 OK", answer), src)
    uas.settimeout(0.2)
    ended = False
    while peer.poll() is None or not ended:
        try:
            msg, src = uas.recvfrom(65535)
        except socket.timeout:
            if peer.poll() is not None:
                break
            continue
        msg = msg.decode(errors="replace")
        first = msg.split("\r\n", 1)[0]
        print("-> Meta got:", first)
        if msg.startswith("BYE "):
            uas.sendto(reply_to(msg, "200 OK"), src)
            ended = True
    peer.wait(timeout=secs + 30)
    print("-- meta-peer summary:", open(summary).read())
    amp, rms, dur = tone_level(rec, 1000)
    print(f"-- Meta side heard 1000 Hz from the business: level {amp:.0f} (rms {rms:.0f}) over {dur:.1f} s")
    time.sleep(2)
    # FreeSWITCH refuses ${...} in originate variables, so the file is named after this run's tag.
    recs = [p for p in [os.path.join(rec_dir, f"biz-{tag}.wav")] if os.path.exists(p)]
    ok = amp > 500
    if recs:
        amp2, rms2, dur2 = tone_level(recs[-1], 440)
        print(f"-- the business heard 440 Hz from Meta's side: level {amp2:.0f} (rms {rms2:.0f}) over {dur2:.1f} s "
              f"({recs[-1]})")
        ok = ok and amp2 > 500
    else:
        ok = False
        print("-- no recording on the business side")
    print("RESULT", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

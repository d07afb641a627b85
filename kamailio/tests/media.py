#!/usr/bin/env python3
"""Real media through Kamailio + wacall.so + the relay process it forked.

Meta's side: a TLS SIP peer (this script, like fake_meta.py) whose media is tools/meta-peer (ice-lite, DTLS server
verifying our fingerprint, waits for our maiden SRTP packet, sends a 1000 Hz tone, records). The PBX's side: a UDP
SIP peer (this script) whose media is meta-peer in SDES or plain RTP mode (440 Hz tone), or baresip (srtp).
Each end's recording is checked for the other end's tone (Goertzel ratio and level, tests/media/tone.py).

usage: media.py --bin DIR --work DIR --cert PEM --key PEM --kam-udp PORT --kam-tls PORT --meta-port PORT
                --pbx-port PORT --ctl unix:PATH --pbx-media sdes|rtp [--only NAME]
Prints one line per check, ends with 'N passed, N failed'.
"""
import argparse, json, os, random, re, socket, ssl, subprocess, sys, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "media"))
import tone  # noqa: E402
import sipua  # noqa: E402
from fake_meta import Conn, build, hget, hall, uri_of, rand, reply  # noqa: E402

PASSED, FAILED = [], []
HOST = "sip.example.test"
NUM_DTLS, NUM_SDES = "+12195550714", "+442071234567"
FIGURES = []


def check(name, ok, detail=""):
    (PASSED if ok else FAILED).append(name)
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f"  {detail}" if detail else ""), flush=True)
    return ok


class Peer:
    """tools/meta-peer with its parameters exchanged through JSON files."""

    def __init__(self, args, name, mode, tone_hz, duration, extra=()):
        self.args, self.name, self.mode = args, name, mode
        w = args.work
        self.info_f, self.remote_f = f"{w}/{name}.info.json", f"{w}/{name}.remote.json"
        self.wav, self.summary_f = f"{w}/{name}.wav", f"{w}/{name}.summary.json"
        for f in (self.info_f, self.remote_f, self.wav, self.summary_f):
            if os.path.exists(f):
                os.remove(f)
        cmd = [os.path.join(args.bin, "meta-peer"), "--mode", mode, "--bind", "127.0.0.1:0", "--info-out",
               self.info_f, "--remote-in", self.remote_f, "--tone", str(tone_hz), "--duration", str(duration),
               "--record", self.wav, "--summary", self.summary_f, *extra]
        self.p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(f"{w}/{name}.log", "w"))
        for _ in range(250):
            if os.path.exists(self.info_f):
                break
            time.sleep(0.02)
        with open(self.info_f) as f:
            self.info = json.load(f)

    def remote(self, d):
        with open(self.remote_f + ".tmp", "w") as f:
            json.dump(d, f)
        os.rename(self.remote_f + ".tmp", self.remote_f)

    def wait(self, t):
        try:
            self.p.wait(t)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()

    def summary(self):
        try:
            with open(self.summary_f) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}


def meta_sdp(info, mode, answer, fingerprint=None):
    """Meta's SDP (as in the seed: opus 111 + telephone-event 126, BUNDLE, rtcp-mux) with the peer's parameters."""
    host, port = info["addr"].rsplit(":", 1)
    proto = "UDP/TLS/RTP/SAVPF" if mode == "dtls" else "RTP/SAVP"
    s = ["v=0", f"o=- {random.randrange(1 << 40)} 2 IN IP4 {host}", "s=-", "t=0 0", "a=group:BUNDLE audio"]
    if mode == "dtls":
        s.append("a=ice-lite")
    s += [f"m=audio {port} {proto} 111 126", f"c=IN IP4 {host}", "a=rtcp:9 IN IP4 0.0.0.0"]
    if mode == "dtls":
        s += [f"a=candidate:1775469887 1 udp 2122260223 {host} {port} typ host generation 0",
              f"a=ice-ufrag:{info['ice_ufrag']}", f"a=ice-pwd:{info['ice_pwd']}",
              f"a=fingerprint:{fingerprint or info['fingerprint']}",
              "a=setup:passive" if answer else "a=setup:actpass"]
    s += ["a=mid:audio", "a=sendrecv", "a=rtcp-mux"]
    if mode == "sdes":
        s.append(f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{info['sdes']['key']}")
    s += ["a=rtpmap:111 opus/48000/2",
          "a=fmtp:111 maxaveragebitrate=20000;maxplaybackrate=16000;minptime=20;sprop-maxcapturerate=16000;"
          "useinbandfec=1", "a=rtpmap:126 telephone-event/8000", "a=maxptime:20", "a=ptime:20",
          "a=ssrc:849255537 cname:WhatsAppAudioStream1"]
    return "\r\n".join(s) + "\r\n"


def remote_of(sdp, mode):
    """What a peer needs from the relay's SDP: where to send (IPv4 candidate or c=/m=), fingerprint or SDES key."""
    p = sipua.parse_sdp(sdp)
    addr = p.get("addr")
    if mode == "dtls":
        v4 = [c["addr"] for c in p["candidates"] if c["component"] == 1 and not c["addr"].startswith("[")]
        addr = v4[0] if v4 else addr
    r = {"addr": addr}
    if p.get("fingerprint"):
        r["fingerprint"] = p["fingerprint"]
    if p.get("crypto"):
        r["sdes"] = p["crypto"]
    return r, p


def tone_check(path, freq, label, want=True):
    try:
        r = tone.analyse(path, freq)
    except Exception as e:  # noqa: BLE001 - a missing/broken file is a failed check
        r = {"why": str(e)}
    ok = r.get("tone_ratio", 0) >= 0.5 and r.get("level_dbfs", -200) >= -40
    d = {k: r.get(k) for k in ("seconds", "tone_ratio", "level_dbfs", "why") if k in r}
    FIGURES.append((label, d))
    check(label, ok == want, json.dumps(d))
    return r


def kamcmd(args, *cmd):
    r = subprocess.run(["kamcmd", "-s", args.ctl, *cmd], capture_output=True, text=True, timeout=10)
    return r.stdout + r.stderr


def relay_stat(args, name):
    m = re.search(rf"{name}:\s*(\d+)", kamcmd(args, "wacall.stats"))
    return int(m.group(1)) if m else None


class UdpPbx:
    """The PBX's SIP side over UDP: answers Kamailio's INVITE with the PBX peer's SDP (UAS), or calls out (UAC)."""

    def __init__(self, args):
        self.args = args
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", args.pbx_port))
        self.s.settimeout(0.2)
        self.kam = ("127.0.0.1", args.kam_udp)

    def recv(self, timeout):
        end = time.time() + timeout
        while time.time() < end:
            try:
                data, src = self.s.recvfrom(65535)
            except socket.timeout:
                continue
            text = data.decode(errors="replace")
            head, _, body = text.partition("\r\n\r\n")
            lines = head.split("\r\n")
            hdrs = [(ln.split(":", 1)[0].strip(), ln.split(":", 1)[1].strip()) for ln in lines[1:] if ":" in ln]
            return lines[0], hdrs, body, src
        return None

    def send(self, text, dst):
        self.s.sendto(text.encode(), dst)

    def close(self):
        self.s.close()


def uas_thread(pbx, peer, state, seconds):
    """Answers one INVITE (writes the PBX peer's remote parameters from Kamailio's offer), then ACK/BYE."""
    end = time.time() + seconds
    tag = rand(8)
    while time.time() < end and not state.get("bye"):
        m = pbx.recv(0.5)
        if not m:
            continue
        start, hdrs, body, src = m
        if start.startswith("INVITE"):
            if "offer" not in state:
                state["offer"] = body
                r, _ = remote_of(body, peer.mode)
                peer.remote(r)
            extra = [("Contact", f"<sip:pbx@127.0.0.1:{pbx.args.pbx_port}>"), ("Content-Type", "application/sdp")]
            pbx.send(reply(hdrs, 200, "OK", extra, peer.info["sdp"], to_tag=tag), src)
        elif start.startswith("BYE"):
            pbx.send(reply(hdrs, 200, "OK"), src)
            state["bye"] = True
        elif start.startswith("CANCEL"):
            pbx.send(reply(hdrs, 200, "OK"), src)


def tls_connect(args):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.cert)
    raw = socket.create_connection(("127.0.0.1", args.kam_tls), timeout=10)
    return Conn(ctx.wrap_socket(raw, server_hostname=HOST))


class MetaCall:
    """Meta's SIP side of a user-initiated call over TLS: INVITE, ACK and BYE along the Record-Route."""

    def __init__(self, args, number):
        self.c = tls_connect(args)
        self.lport = self.c.s.getsockname()[1]
        self.number, self.callid, self.ftag = number, "wa-" + rand(16), rand(8)
        self.frm = f'"12145551869" <sip:+12145551869@wa.meta.vc>;tag={self.ftag}'
        self.to, self.target, self.routes = f"<sip:{number}@{HOST}>", None, []

    def via(self):
        return ("Via", f"SIP/2.0/TLS 127.0.0.1:{self.lport};branch=z9hG4bK{rand(12)};alias")

    def invite(self, sdp):
        """Sends the INVITE; returns the final response (start, headers, body) or None."""
        self.c.send(build(
            f"INVITE sip:{self.number};tgrp=wacall;trunk-context=byoc.example.com@{HOST} SIP/2.0",
            [self.via(), ("Max-Forwards", "70"), ("From", self.frm), ("To", self.to),
             ("Contact", f"<sip:+12145551869@127.0.0.1:{self.lport};transport=tls;ob>"), ("Call-ID", self.callid),
             ("CSeq", "1 INVITE"), ("x-wa-meta-wacid", "wacid." + rand(20)), ("Content-Type", "application/sdp")],
            sdp))
        final = final_of(self.c, 15)
        if final and " 200 " in final[0]:
            hdrs = final[1]
            # The caller's route set is the Record-Route list in reverse order.
            self.routes = [("Route", x.strip()) for v in reversed(hall(hdrs, "Record-Route"))
                           for x in reversed(v.split(","))]
            self.target, self.to = uri_of(hget(hdrs, "Contact") or ""), hget(hdrs, "To")
        return final

    def in_dialog(self, method, cseq, extra=()):
        self.c.send(build(f"{method} {self.target} SIP/2.0", [self.via()] + self.routes + [
            ("Max-Forwards", "70"), ("From", self.frm), ("To", self.to), ("Call-ID", self.callid),
            ("CSeq", f"{cseq} {method}"), *extra]))

    def bye(self, extra=()):
        self.in_dialog("BYE", 2, extra)
        return final_of(self.c, 10)

    def close(self):
        self.c.s.close()


def final_of(conn, timeout):
    while True:
        m = conn.recv(timeout)
        if m is None or (m[0].startswith("SIP/2.0") and int(m[0].split()[1]) >= 200):
            return m


def user_call(args, name, meta_mode, duration=6, wrong_fp=False):
    """Meta -> business: Meta's INVITE over TLS to Kamailio, which maps it to the PBX (UDP) and back."""
    number = NUM_DTLS if meta_mode == "dtls" else NUM_SDES
    pbx_mode = args.pbx_media
    mp = Peer(args, f"{name}-meta", meta_mode, 1000, duration)
    pp = Peer(args, f"{name}-pbx", pbx_mode, 440, duration, ("--no-wait-maiden",))
    pbx = UdpPbx(args)
    state = {}
    t = threading.Thread(target=uas_thread, args=(pbx, pp, state, duration + 15))
    t.start()
    mc = MetaCall(args, number)
    try:
        fp = None
        if wrong_fp:
            h = mp.info["fingerprint"].split()[1].split(":")
            h[0] = "00" if h[0] != "00" else "11"
            fp = "sha-256 " + ":".join(h)
        final = mc.invite(meta_sdp(mp.info, meta_mode, False, fp))
        if not check(f"{name}: INVITE from Meta answered 200", final is not None and " 200 " in final[0],
                     final[0] if final else "nothing"):
            return
        r, parsed = remote_of(final[2], meta_mode)
        mp.remote(r)
        check(f"{name}: answer to Meta carries the relay's real media",
              parsed.get("proto") == ("UDP/TLS/RTP/SAVPF" if meta_mode == "dtls" else "RTP/SAVP")
              and r["addr"].startswith("127.0.0.1:") and 40000 <= int(r["addr"].rsplit(":", 1)[1]) <= 40999
              and (meta_mode != "dtls" or (parsed.get("setup") == "active" and "fingerprint" in r)),
              f"{parsed.get('proto')} {r['addr']} setup={parsed.get('setup')}")
        if args.dual and meta_mode == "dtls":
            cands = [c["addr"] for c in parsed["candidates"]]
            check(f"{name}: dual-stack relay offers Meta IPv4 and IPv6 host candidates",
                  any(a.startswith("127.0.0.1:") for a in cands) and any(a.startswith("[::1]:") for a in cands),
                  " ".join(cands))
        mc.in_dialog("ACK", 1)
        time.sleep(min(3, duration / 2))
        calls_mid = kamcmd(args, "wacall.relay_calls")
        key = f"{mc.callid};{mc.ftag}"
        check(f"{name}: wacall.relay_calls lists the call", key in calls_mid)
        mp.wait(duration + 10)
        pp.wait(duration + 10)
        b = mc.bye([("x-wa-meta-call-duration", str(duration))])
        check(f"{name}: BYE answered 200", b is not None and " 200 " in b[0], b[0] if b else "nothing")
        time.sleep(0.3)
        check(f"{name}: BYE deleted the relay call", key not in kamcmd(args, "wacall.relay_calls"))
    finally:
        mc.close()
        state["bye"] = True
        t.join()
        pbx.close()
        mp.wait(1)
        pp.wait(1)
    media_checks(name, mp, pp, expect=not wrong_fp)


def media_checks(name, mp, pp, expect=True):
    ms, ps = mp.summary(), pp.summary()
    figs = (f"meta-peer rx={ms.get('rtp_in', 0)} tx={ms.get('rtp_out', 0)} dtls={ms.get('dtls')} "
            f"| pbx peer rx={ps.get('rtp_in', 0)} tx={ps.get('rtp_out', 0)}")
    if not expect:
        check(f"{name}: no media reaches either side", ms.get("rtp_in", 0) == 0 and ps.get("rtp_in", 0) == 0, figs)
        return
    check(f"{name}: Meta side got media, maiden rule kept",
          ms.get("rtp_in", 0) > 0 and not ms.get("sent_before_maiden"), figs)
    tone_check(mp.wav, 440, f"{name}: PBX tone (440 Hz) heard on Meta side")
    tone_check(pp.wav, 1000, f"{name}: Meta tone (1000 Hz) heard on PBX side")


def meta_server_thread(args, ls, peer, state, seconds):
    """Meta's TLS side of a business-initiated call: answers the INVITE with the Meta peer's SDP, serves ACK/BYE."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ls.settimeout(seconds)
    try:
        raw, _ = ls.accept()
        c = Conn(ctx.wrap_socket(raw, server_side=True))
    except (OSError, ssl.SSLError) as e:
        state["error"] = repr(e)
        return
    tag = rand(8)
    end = time.time() + seconds
    while time.time() < end and not state.get("bye"):
        m = c.recv(0.5)
        if m is None:
            continue
        start, hdrs, body = m
        if start.startswith("INVITE"):
            state["ruri"] = start.split()[1]
            if "offer" not in state:
                state["offer"] = body
                r, _ = remote_of(body, peer.mode)
                peer.remote(r)
            extra = [("Contact", f"<sip:+13175550100@127.0.0.1:{args.meta_port};transport=tls>"),
                     ("Content-Type", "application/sdp")]
            c.send(reply(hdrs, 200, "OK", extra, meta_sdp(peer.info, peer.mode, True), to_tag=tag))
        elif start.startswith("BYE"):
            c.send(reply(hdrs, 200, "OK"))
            state["bye"] = True
    c.s.close()


def business_call(args, name, meta_mode, duration=6):
    """Business -> Meta: the PBX's INVITE over UDP, Kamailio rewrites it for Meta (TLS) and maps both SDPs."""
    number = NUM_DTLS if meta_mode == "dtls" else NUM_SDES
    pbx_mode = args.pbx_media
    mp = Peer(args, f"{name}-meta", meta_mode, 1000, duration)
    pp = Peer(args, f"{name}-pbx", pbx_mode, 440, duration, ("--no-wait-maiden",))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.meta_port))
    ls.listen(2)
    state = {}
    t = threading.Thread(target=meta_server_thread, args=(args, ls, mp, state, duration + 15))
    t.start()
    pbx = UdpPbx(args)
    try:
        callid, ftag = rand(16) + "@pbx", rand(8)
        lh = f"127.0.0.1:{args.pbx_port}"
        frm = f"<sip:{number}@127.0.0.1>;tag={ftag}"
        via = lambda: f"SIP/2.0/UDP {lh};rport;branch=z9hG4bK{rand(12)}"
        callee = "+13175550100"
        kam = f"127.0.0.1:{args.kam_udp}"

        def req(method, uri, cseq, to, routes=(), body=""):
            h = [("Via", via()), ("Max-Forwards", "70"), ("From", frm), ("To", to), ("Call-ID", callid),
                 ("CSeq", f"{cseq} {method}"), ("Contact", f"<sip:{number}@{lh}>")]
            h += [("Route", r) for r in routes]
            if body:
                h.append(("Content-Type", "application/sdp"))
            pbx.send(build(f"{method} {uri} SIP/2.0", h, body), pbx.kam)

        req("INVITE", f"sip:{callee}@{kam}", 1, f"<sip:{callee}@{kam}>", body=pp.info["sdp"])
        final = None
        end = time.time() + 15
        while time.time() < end:
            m = pbx.recv(1)
            if m and m[0].startswith("SIP/2.0") and int(m[0].split()[1]) >= 200:
                final = m
                break
        if not check(f"{name}: INVITE to Meta answered 200", final is not None and " 200 " in final[0],
                     final[0] if final else "nothing"):
            return
        _, hdrs, body, _ = final
        check(f"{name}: Meta saw its own R-URI (sip:{callee}@wa.meta.vc;transport=tls)",
              state.get("ruri") == f"sip:{callee}@wa.meta.vc;transport=tls", str(state.get("ruri")))
        r, parsed = remote_of(body, pbx_mode)
        pp.remote(r)
        check(f"{name}: answer to the PBX carries the relay's real media",
              parsed.get("proto") == ("RTP/SAVP" if pbx_mode == "sdes" else "RTP/AVP")
              and 40000 <= int(r["addr"].rsplit(":", 1)[1]) <= 40999, f"{parsed.get('proto')} {r['addr']}")
        offer = state.get("offer", "")
        check(f"{name}: offer to Meta is {'DTLS, full ICE' if meta_mode == 'dtls' else 'SDES'} from the relay",
              ("UDP/TLS/RTP/SAVPF" in offer and "a=ice-ufrag:" in offer and "a=setup:actpass" in offer)
              if meta_mode == "dtls" else ("RTP/SAVP" in offer and "a=crypto:" in offer))
        routes = [x.strip() for v in [v for n, v in hdrs if n.lower() == "record-route"] for x in v.split(",")]
        target, to_tag = uri_of(hget(hdrs, "Contact") or ""), hget(hdrs, "To")
        req("ACK", target, 1, to_tag, routes)
        mp.wait(duration + 10)
        pp.wait(duration + 10)
        req("BYE", target, 2, to_tag, routes)
        end = time.time() + 10
        b = None
        while time.time() < end:
            m = pbx.recv(1)
            if m and m[0].startswith("SIP/2.0") and "BYE" in (hget(m[1], "CSeq") or ""):
                b = m
                break
        check(f"{name}: BYE answered 200", b is not None and " 200 " in b[0], b[0] if b else "nothing")
        time.sleep(0.3)
        check(f"{name}: BYE deleted the relay call", f"{callid};{ftag}" not in kamcmd(args, "wacall.relay_calls"))
    finally:
        state["bye"] = True
        t.join()
        ls.close()
        pbx.close()
        mp.wait(1)
        pp.wait(1)
    media_checks(name, mp, pp)


def baresip_pbx(args, name, duration=8):
    """Meta -> business with baresip as the PBX (srtp or plain RTP, its own SIP stack) instead of meta-peer."""
    mp = Peer(args, f"{name}-meta", "dtls", 1000, duration)
    bp, snd = baresip_start(args, name, "srtp-mand" if args.pbx_media == "sdes" else None, duration + 12)
    time.sleep(1.0)
    mc = MetaCall(args, NUM_DTLS)
    try:
        final = mc.invite(meta_sdp(mp.info, "dtls", False))
        if not check(f"{name}: baresip answered through Kamailio", final is not None and " 200 " in final[0],
                     final[0] if final else "nothing"):
            return
        r, _ = remote_of(final[2], "dtls")
        mp.remote(r)
        mc.in_dialog("ACK", 1)
        mp.wait(duration + 10)
        mc.bye()
    finally:
        mc.close()
        try:
            bp.wait(8)
        except subprocess.TimeoutExpired:
            bp.terminate()
            bp.wait(3)
    ms = mp.summary()
    check(f"{name}: Meta side got media, maiden rule kept", ms.get("rtp_in", 0) > 0 and not ms.get("sent_before_maiden"),
          f"meta-peer rx={ms.get('rtp_in', 0)} tx={ms.get('rtp_out', 0)} dtls={ms.get('dtls')}")
    tone_check(mp.wav, 440, f"{name}: baresip tone (440 Hz) heard on Meta side")
    import glob
    wavs = sorted(glob.glob(os.path.join(snd, "*dec*.wav")), key=os.path.getmtime)
    tone_check(wavs[-1] if wavs else os.path.join(snd, "none.wav"), 1000,
               f"{name}: Meta tone (1000 Hz) heard by baresip")


def baresip_start(args, name, mediaenc, seconds):
    """baresip answering as the business number (Kamailio's R-URI user), 440 Hz tone, records to {name}-snd/."""
    cfgdir, snd = os.path.join(args.work, f"{name}-baresip"), os.path.join(args.work, f"{name}-snd")
    os.makedirs(cfgdir, exist_ok=True)
    os.makedirs(snd, exist_ok=True)
    with open(os.path.join(cfgdir, "config"), "w") as f:
        f.write(sipua.BARESIP_CONFIG.format(sip_host="127.0.0.1", sip_port=args.pbx_port, tone=440, snd_path=snd,
                                            net_if=""))
    params = ";regint=0;answermode=auto;audio_codecs=opus" + (f";mediaenc={mediaenc}" if mediaenc else "")
    with open(os.path.join(cfgdir, "accounts"), "w") as f:
        f.write(f"<sip:{NUM_DTLS}@127.0.0.1:{args.pbx_port}>{params}\n")
    log = open(os.path.join(args.work, f"{name}-baresip.log"), "w")
    p = subprocess.Popen(["baresip", "-f", cfgdir, "-t", str(seconds)], stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT)
    return p, snd


def crash(args):
    """The relay process dies: Kamailio stays up, a call meanwhile gets a clean SIP error, the supervisor restarts
    the relay and the next call has audio again."""
    # core.psx names Kamailio's processes; the relay is the supervisor's only child.
    psx = kamcmd(args, "core.psx")
    m = re.search(r"PID:\s*(\d+)\s*\n\s*DSC:\s*wacall relay", psx)
    out = subprocess.run(["ps", "-eo", "pid,ppid"], capture_output=True, text=True).stdout
    relay = [ln.split()[0] for ln in out.splitlines()[1:] if m and ln.split()[1] == m.group(1)]
    if not check("crash: relay process found under the supervisor", len(relay) == 1,
                 f"supervisor={m.group(1) if m else None} relay={relay}"):
        return
    os.kill(int(relay[0]), 9)
    time.sleep(0.1)
    mp = Peer(args, "crash-meta", "dtls", 1000, 2)
    c = tls_connect(args)
    c.send(build(f"INVITE sip:{NUM_DTLS}@{HOST} SIP/2.0",
                 [("Via", f"SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bK{rand(12)};alias"), ("Max-Forwards", "70"),
                  ("From", f"<sip:+12145551869@wa.meta.vc>;tag={rand(8)}"), ("To", f"<sip:{NUM_DTLS}@{HOST}>"),
                  ("Contact", "<sip:x@127.0.0.1:1;transport=tls>"), ("Call-ID", rand(16)), ("CSeq", "1 INVITE"),
                  ("Content-Type", "application/sdp")], meta_sdp(mp.info, "dtls", False)))
    f = final_of(c, 10)
    c.s.close()
    mp.p.kill()
    mp.wait(1)
    check("crash: a call while the relay is down gets a clean SIP error",
          f is not None and (" 488 " in f[0] or " 503 " in f[0] or " 200 " in f[0]), f[0] if f else "nothing")
    alive = subprocess.run(["kill", "-0", str(args.kam_pid)]).returncode == 0 and "kamailio" in kamcmd(args, "core.version")
    check("crash: Kamailio still up", alive)
    time.sleep(2.5)
    check("crash: relay restarted (wacall.stats relay_up 1)", relay_stat(args, "relay_up") == 1)
    user_call(args, "after-crash", "dtls", duration=4)


def main():
    ap = argparse.ArgumentParser()
    for a in ("--bin", "--work", "--cert", "--key", "--ctl", "--pbx-media"):
        ap.add_argument(a, required=True)
    for a in ("--kam-udp", "--kam-tls", "--meta-port", "--pbx-port", "--kam-pid"):
        ap.add_argument(a, type=int, required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--dual", action="store_true", help="the relay has relay_address6 ::1 (dual-stack Meta leg)")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    m = args.pbx_media
    tests = {
        f"user-dtls-{m}": lambda: user_call(args, f"user-dtls-{m}", "dtls"),
        f"business-dtls-{m}": lambda: business_call(args, f"business-dtls-{m}", "dtls"),
        f"user-sdes-{m}": lambda: user_call(args, f"user-sdes-{m}", "sdes"),
        f"business-sdes-{m}": lambda: business_call(args, f"business-sdes-{m}", "sdes"),
        f"wrong-fingerprint-{m}": lambda: user_call(args, f"wrong-fingerprint-{m}", "dtls", duration=4,
                                                    wrong_fp=True),
        f"baresip-{m}-pbx": lambda: baresip_pbx(args, f"baresip-{m}-pbx"),
        f"crash-{m}": lambda: crash(args),
    }
    for name, t in tests.items():
        if args.only and args.only not in name:
            continue
        try:
            t()
        except Exception as e:  # noqa: BLE001 - one broken scenario must not hide the others
            check(f"{name}: ran", False, repr(e))
    st = kamcmd(args, "wacall.stats")
    tot = {k: relay_stat(args, k) for k in ("relay_calls_started", "relay_packets_in", "relay_packets_out",
                                             "relay_bytes_in", "relay_auth_failures")}
    if PASSED or FAILED:
        check("wacall.stats reports relay totals", bool(tot["relay_calls_started"] and tot["relay_packets_in"]),
              json.dumps(tot))
    with open(os.path.join(args.work, "figures.json"), "w") as f:
        json.dump({"tones": FIGURES, "relay": tot, "stats": st}, f)
    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    return 0 if not FAILED else 1


if __name__ == "__main__":
    sys.exit(main())

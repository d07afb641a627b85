#!/usr/bin/env python3
"""A stand-in for Meta's SIP side over TLS (python3 stdlib only), driving Kamailio+wacall in the tests.

  call     Meta -> business: the seed's user-initiated INVITE with a DTLS offer, checks the 200's DTLS answer,
           then ACK and BYE along the Record-Route.
  server   business -> Meta: answers the first INVITE with 407 (SHA-256 then MD5 challenges), verifies the retried
           INVITE's Proxy-Authorization, answers 200 with a DTLS answer, then serves ACK and BYE.
  hostile  malformed and hostile input; each must get a clean SIP error (or a closed connection) without harm.
Exit status 0 when every check passed; each check prints `ok - ...` or `not ok - ...`.
"""
import argparse
import hashlib
import os
import random
import re
import socket
import ssl
import sys
import threading
import time

FAILS = []


def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    if not cond:
        FAILS.append(what)
    return cond


def rand(n=10):
    return "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


FPR = ":".join("%02X" % random.randrange(256) for _ in range(32))


def meta_offer(ip, port):
    # The seed's user-initiated DTLS offer, with realistic values substituted (loopback address, test port).
    return (
        "v=0\r\n"
        "o=- 1741113186367 2 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "t=0 0\r\n"
        "a=group:BUNDLE audio\r\n"
        "a=msid-semantic: WMS 632a909f-1060-4369-96a4-7bd03e291ee7\r\n"
        "a=ice-lite\r\n"
        f"m=audio {port} UDP/TLS/RTP/SAVPF 111 126\r\n"
        f"c=IN IP4 {ip}\r\n"
        "a=rtcp:9 IN IP4 0.0.0.0\r\n"
        f"a=candidate:1775469887 1 udp 2122260223 {ip} {port} typ host generation 0 network-cost 50\r\n"
        "a=ice-ufrag:RmDDkfzkwbexPfbC\r\n"
        "a=ice-pwd:Qk3XGq9vT0hV8sd5LmN2pRzw\r\n"
        f"a=fingerprint:sha-256 {FPR}\r\n"
        "a=setup:actpass\r\n"
        "a=mid:audio\r\n"
        "a=sendrecv\r\n"
        "a=msid:632a909f-1060-4369-96a4-7bd03e291ee7 WhatsAppTrack1\r\n"
        "a=rtcp-mux\r\n"
        "a=rtpmap:111 opus/48000/2\r\n"
        "a=rtcp-fb:111 transport-cc\r\n"
        "a=fmtp:111 maxaveragebitrate=20000;maxplaybackrate=16000;minptime=20;sprop-maxcapturerate=16000;useinbandfec=1\r\n"
        "a=rtpmap:126 telephone-event/8000\r\n"
        "a=maxptime:20\r\n"
        "a=ptime:20\r\n"
        "a=ssrc:849255537 cname:WhatsAppAudioStream1\r\n"
    )


def meta_answer(ip, port):
    return (
        "v=0\r\n"
        "o=- 1746657286595 2 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "t=0 0\r\n"
        "a=group:BUNDLE audio\r\n"
        "a=ice-lite\r\n"
        f"m=audio {port} UDP/TLS/RTP/SAVPF 111 126\r\n"
        f"c=IN IP4 {ip}\r\n"
        "a=rtcp:9 IN IP4 0.0.0.0\r\n"
        f"a=candidate:1775469887 1 udp 2122260223 {ip} {port} typ host generation 0\r\n"
        "a=ice-ufrag:Wq8sLkd02mZxPfbC\r\n"
        "a=ice-pwd:Zx3XGq9vT0hV8sd5LmN2pRzw\r\n"
        f"a=fingerprint:sha-256 {FPR}\r\n"
        "a=setup:passive\r\n"
        "a=mid:audio\r\n"
        "a=sendrecv\r\n"
        "a=rtcp-mux\r\n"
        "a=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 maxaveragebitrate=20000;maxplaybackrate=16000;minptime=20;sprop-maxcapturerate=16000;useinbandfec=1\r\n"
        "a=rtpmap:126 telephone-event/8000\r\n"
        "a=ptime:20\r\n"
    )


def meta_sdes_answer(ip, port):
    # The seed's SDES 200 OK from Meta (business-initiated, srtp_key_exchange_protocol=SDES), values substituted.
    return (
        "v=0\r\n"
        "o=- 1746657286595 2 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "t=0 0\r\n"
        "a=group:BUNDLE audio\r\n"
        "a=msid-semantic: WMS 42da9643-cb50-4eca-95d3-ca41b3f1f4bb\r\n"
        f"m=audio {port} RTP/SAVP 111 126\r\n"
        f"c=IN IP4 {ip}\r\n"
        "a=rtcp:9 IN IP4 0.0.0.0\r\n"
        "a=mid:audio\r\n"
        "a=sendrecv\r\n"
        "a=msid:42da9643-cb50-4eca-95d3-ca41b3f1f4bb WhatsAppTrack1\r\n"
        "a=rtcp-mux\r\n"
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n"
        "a=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 maxaveragebitrate=20000;maxplaybackrate=16000;minptime=20;sprop-maxcapturerate=16000;useinbandfec=1\r\n"
        "a=rtpmap:126 telephone-event/8000\r\n"
        "a=maxptime:20\r\n"
        "a=ptime:20\r\n"
        "a=ssrc:1238967757 cname:WhatsAppAudioStream1\r\n"
    )


class Conn:
    """One TLS connection carrying SIP messages."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def send(self, text):
        self.s.sendall(text.encode() if isinstance(text, str) else text)

    def recv(self, timeout=10.0):
        """Next SIP message as (start_line, headers list of (name, value), body), or None on timeout/close."""
        self.s.settimeout(timeout)
        end = time.time() + timeout
        while True:
            while self.buf.startswith(b"\r\n"):
                self.buf = self.buf[2:]
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head = self.buf[:i].decode(errors="replace")
                lines = head.split("\r\n")
                hdrs = []
                for l in lines[1:]:
                    if ":" in l:
                        n, v = l.split(":", 1)
                        hdrs.append((n.strip(), v.strip()))
                cl = int(next((v for n, v in hdrs if n.lower() in ("content-length", "l")), "0") or 0)
                if len(self.buf) >= i + 4 + cl:
                    body = self.buf[i + 4 : i + 4 + cl].decode(errors="replace")
                    self.buf = self.buf[i + 4 + cl :]
                    return lines[0], hdrs, body
            if time.time() > end:
                return None
            try:
                d = self.s.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                return None
            if not d:
                return None
            self.buf += d


def hget(hdrs, name):
    return next((v for n, v in hdrs if n.lower() == name.lower()), None)


def hall(hdrs, name):
    return [v for n, v in hdrs if n.lower() == name.lower()]


def client_ctx(ca):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.check_hostname = True
    return ctx


def connect(args, src=None):
    if src is None:
        src = "::1" if ":" in args.host else "127.0.0.1"
    raw = socket.create_connection((args.host, args.port), timeout=10, source_address=(src, 0))
    s = client_ctx(args.ca).wrap_socket(raw, server_hostname=args.server_hostname)
    return Conn(s)


def build(start, headers, body=""):
    h = "".join(f"{n}: {v}\r\n" for n, v in headers)
    return f"{start}\r\n{h}Content-Length: {len(body.encode())}\r\n\r\n{body}"


def uri_of(v):
    m = re.search(r"<([^>]*)>", v)
    return m.group(1) if m else v.split(";")[0].strip()


def user_call(args):
    """Meta -> business call through Kamailio to the PBX (sipp)."""
    c = connect(args)
    lport = c.s.getsockname()[1]
    lhost = "[::1]" if ":" in args.host else "127.0.0.1"
    callid = "wa-" + rand(16)
    ftag = rand(8)
    branch = "z9hG4bK" + rand(12)
    number = args.number
    ruri = f"sip:{number};tgrp=wacall;trunk-context=byoc.example.com@{args.server_hostname}"
    via = f"SIP/2.0/TLS {lhost}:{lport};branch={branch};alias"
    sdp = meta_offer("127.0.0.1", 40500)
    frm = f'"12145551869" <sip:+12145551869@wa.meta.vc>;tag={ftag}'
    to = f"<sip:{number}@{args.server_hostname}>"
    contact = f"<sip:+12145551869@{lhost}:{lport};transport=tls;ob>;isfocus"
    inv = build(
        f"INVITE {ruri} SIP/2.0",
        [
            ("Via", via),
            ("Max-Forwards", "70"),
            ("From", frm),
            ("To", to),
            ("Contact", contact),
            ("Call-ID", callid),
            ("CSeq", "31159 INVITE"),
            ("X-FB-External-Domain", "wa.meta.vc"),
            ("x-wa-meta-wacid", "wacid.HBgLMTIxOTU1NTA3MTQVAgASGCA4QkY1"),
            ("x-wa-meta-cta-payload", "order-4711"),
            ("Allow", "INVITE, ACK, BYE, CANCEL, NOTIFY, OPTIONS"),
            ("User-Agent", "Facebook SipGateway"),
            ("Content-Type", "application/sdp"),
        ],
        sdp,
    )
    c.send(inv)
    final = None
    while True:
        m = c.recv(15)
        if m is None:
            break
        code = int(m[0].split()[1]) if m[0].startswith("SIP/2.0") else 0
        if code >= 200:
            final = m
            break
    if not check(final is not None and final[0].startswith("SIP/2.0 200"), f"user-initiated INVITE answered 200 ({final[0] if final else 'nothing'})"):
        return
    _, hdrs, body = final
    check("UDP/TLS/RTP/SAVPF 111" in body, "200 to Meta carries a DTLS (UDP/TLS/RTP/SAVPF) opus answer")
    check("a=setup:active" in body, "answer to Meta is a=setup:active (we are DTLS client)")
    check(re.search(r"a=fingerprint:sha-256 [0-9A-F:]{95}", body) is not None, "answer has an upper-case sha-256 fingerprint")
    check("a=ice-ufrag:" in body and "a=candidate:" in body, "answer has ICE credentials and a candidate")
    check("a=crypto" not in body, "no a=crypto leaks to Meta in DTLS mode")
    check("a=mid:audio" in body and "a=group:BUNDLE audio" in body, "answer keeps Meta's BUNDLE/mid")
    to_tag = hget(hdrs, "To")
    # The caller's route set is the Record-Route list in reverse order.
    routes = [r.strip() for v in hall(hdrs, "Record-Route") for r in v.split(",")]
    target = uri_of(hget(hdrs, "Contact") or "")
    rhdr = [("Route", r) for r in reversed(routes)]
    ack = build(
        f"ACK {target} SIP/2.0",
        [("Via", f"SIP/2.0/TLS {lhost}:{lport};branch=z9hG4bK{rand(12)};alias")]
        + rhdr
        + [("Max-Forwards", "70"), ("From", frm), ("To", to_tag), ("Call-ID", callid), ("CSeq", "31159 ACK")],
    )
    c.send(ack)
    time.sleep(0.5)
    bye = build(
        f"BYE {target} SIP/2.0",
        [("Via", f"SIP/2.0/TLS {lhost}:{lport};branch=z9hG4bK{rand(12)};alias")]
        + rhdr
        + [
            ("Max-Forwards", "70"),
            ("From", frm),
            ("To", to_tag),
            ("Call-ID", callid),
            ("CSeq", "31160 BYE"),
            ("x-wa-meta-call-duration", "1"),
        ],
    )
    c.send(bye)
    r = None
    while True:
        m = c.recv(10)
        if m is None or (m[0].startswith("SIP/2.0") and int(m[0].split()[1]) >= 200):
            r = m
            break
    check(r is not None and r[0].startswith("SIP/2.0 200"), f"BYE answered 200 ({r[0] if r else 'nothing'})")
    c.s.close()


def digest(alg, data):
    h = hashlib.sha256 if alg.upper().startswith("SHA-256") else hashlib.md5
    return h(data.encode()).hexdigest()


def parse_auth(v):
    v = v.strip()
    if v.lower().startswith("digest"):
        v = v[6:]
    out = {}
    for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]+)', v):
        out[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return out


def reply(req_hdrs, code, reason, extra=(), body="", to_tag=None):
    hs = [(n, v) for n, v in req_hdrs if n.lower() in ("via", "from", "call-id", "cseq", "record-route")]
    out = []
    for n, v in hs:
        out.append((n, v))
    to = hget(req_hdrs, "To")
    if to_tag and ";tag=" not in to:
        to += f";tag={to_tag}"
    # keep header order: Via..., From, To, Call-ID, CSeq
    res = [(n, v) for n, v in out if n.lower() == "via"]
    res += [(n, v) for n, v in out if n.lower() == "record-route"]
    res += [("From", hget(req_hdrs, "From")), ("To", to), ("Call-ID", hget(req_hdrs, "Call-ID")), ("CSeq", hget(req_hdrs, "CSeq"))]
    res += list(extra)
    return build(f"SIP/2.0 {code} {reason}", res, body)


def serve(args):
    """Meta's side of a business-initiated call (TLS server)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.listen))
    ls.listen(4)
    ls.settimeout(args.timeout)
    state = {"invites": 0, "done": False}
    expect_ruri = f"sip:{args.callee}@{args.meta_domain};transport=tls"
    nonce = rand(16)
    opaque = rand(16)
    to_tag = rand(10)
    deadline = time.time() + args.timeout

    def handle(conn):
        c = Conn(conn)
        while not state["done"] and time.time() < deadline:
            m = c.recv(2)
            if m is None:
                if c.s.fileno() < 0:
                    return
                continue
            start, hdrs, body = m
            method = start.split()[0]
            if method == "INVITE":
                state["invites"] += 1
                ruri = start.split()[1]
                cseq = int((hget(hdrs, "CSeq") or "0").split()[0])
                if args.always_407:
                    # A wrong password as Meta sees it: every INVITE is challenged again.
                    c.send(reply(hdrs, 407, "Proxy Authentication Required", [
                        ("Proxy-Authenticate", f'Digest realm="{args.meta_domain}",nonce="{rand(16)}",algorithm=SHA-256,qop="auth"'),
                    ], to_tag=rand(8)))
                    continue
                if state["invites"] == 1:
                    state["cseq"] = cseq
                    check(ruri == expect_ruri, f"Meta sees R-URI {ruri} (want {expect_ruri})")
                    if args.sdes:
                        check(re.search(r"m=audio \d+ RTP/SAVP 111 126", body) is not None
                              and "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in body
                              and "fingerprint" not in body and "ice-ufrag" not in body,
                              "offer to Meta is SDES (RTP/SAVP, a=crypto, no DTLS/ICE) for an srtp=SDES number")
                    else:
                        check("UDP/TLS/RTP/SAVPF" in body and "a=setup:actpass" in body and "a=fingerprint:sha-256" in body,
                              "offer to Meta is DTLS (UDP/TLS/RTP/SAVPF, setup:actpass, fingerprint)")
                        check("a=crypto" not in body, "offer to Meta has no crypto")
                    check("PCMU" not in body, "offer to Meta has no PCMU (opus only)")
                    check(uri_of(hget(hdrs, "From") or "").endswith("@" + args.server_hostname),
                          "From domain is server_hostname")
                    check(uri_of(hget(hdrs, "To") or "") == f"sip:{args.callee}@{args.meta_domain}",
                          f"To URI matches the R-URI's user@host ({uri_of(hget(hdrs, 'To') or '')})")
                    c.send(reply(hdrs, 100, "Trying"))
                    ch = [
                        ("Proxy-Authenticate", f'Digest realm="{args.meta_domain}",nonce="{nonce}",opaque="{opaque}",algorithm=SHA-256,qop="auth"'),
                        ("Proxy-Authenticate", f'Digest realm="{args.meta_domain}",nonce="{nonce}",opaque="{opaque}",algorithm=MD5,qop="auth"'),
                    ]
                    c.send(reply(hdrs, 407, "Proxy Authentication Required", ch, to_tag=rand(8)))
                else:
                    check(cseq == state.get("cseq", -1) + 1, f"retried INVITE has CSeq+1 ({cseq})")
                    pa = hget(hdrs, "Proxy-Authorization")
                    ok = check(pa is not None, "retried INVITE carries Proxy-Authorization")
                    if ok:
                        p = parse_auth(pa)
                        check(p.get("algorithm", "").upper() == "SHA-256", f"digest uses SHA-256 ({p.get('algorithm')})")
                        user = args.caller.lstrip("+")
                        check(p.get("username") == user, f"digest username is the number without + ({p.get('username')})")
                        check(p.get("uri") == ruri, f"digest uri byte-equal to R-URI ({p.get('uri')})")
                        check(p.get("realm") == args.meta_domain and p.get("nonce") == nonce and p.get("opaque") == opaque,
                              "digest realm/nonce/opaque echoed")
                        ha1 = digest("SHA-256", f"{user}:{args.meta_domain}:{args.password}")
                        ha2 = digest("SHA-256", f"INVITE:{p.get('uri')}")
                        exp = digest("SHA-256", f"{ha1}:{nonce}:{p.get('nc')}:{p.get('cnonce')}:{p.get('qop')}:{ha2}")
                        check(p.get("response") == exp, "digest response is correct for the configured password")
                        check(uri_of(hget(hdrs, "From") or "").endswith("@" + args.server_hostname),
                              "retried INVITE From domain is server_hostname")
                    c.send(reply(hdrs, 200, "OK", [
                        ("Contact", f"<sip:{args.callee}@127.0.0.1:{args.listen};transport=tls;ob>;isfocus"),
                        ("Content-Type", "application/sdp"),
                    ], (meta_sdes_answer if args.sdes else meta_answer)("127.0.0.1", 40600), to_tag=to_tag))
            elif method == "ACK":
                state["ack"] = state.get("ack", 0) + 1
                if state["invites"] == 2 and not args.always_407:
                    ack_cseq = int((hget(hdrs, "CSeq") or "0").split()[0])
                    check(ack_cseq == state.get("cseq", 0) + 1, f"ACK for the 200 has the re-sent INVITE's CSeq ({ack_cseq})")
            elif method == "BYE":
                bye_cseq = int((hget(hdrs, "CSeq") or "0").split()[0])
                check(bye_cseq > state.get("cseq", 0) + 1, f"BYE CSeq {bye_cseq} above the re-sent INVITE's")
                c.send(reply(hdrs, 200, "OK"))
                check(True, "BYE from the business reached Meta")
                state["done"] = True
            elif method == "CANCEL":
                c.send(reply(hdrs, 200, "OK"))

    threads = []
    while not state["done"] and time.time() < deadline:
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            break
        try:
            tconn = ctx.wrap_socket(conn, server_side=True)
        except ssl.SSLError as e:
            print(f"# TLS accept failed: {e}")
            continue
        t = threading.Thread(target=handle, args=(tconn,), daemon=True)
        t.start()
        threads.append(t)
        # keep accepting: Kamailio may open more than one connection
        ls.settimeout(1)
        while not state["done"] and time.time() < deadline:
            try:
                conn, _ = ls.accept()
                tconn = ctx.wrap_socket(conn, server_side=True)
                t = threading.Thread(target=handle, args=(tconn,), daemon=True)
                t.start()
                threads.append(t)
            except socket.timeout:
                continue
            except ssl.SSLError:
                continue
    if args.always_407:
        check(state["invites"] == 2, f"refused credentials: one retry only, no loop ({state['invites']} INVITEs)")
        return
    check(state["invites"] == 2, f"Meta got exactly 2 INVITEs (challenge + authenticated), got {state['invites']}")
    check(state.get("ack", 0) >= 1, "ACK for the 200 reached Meta")
    check(state["done"], "call ended with BYE")


def expect_error(args, name, payload, src="127.0.0.1", want=None):
    """Sends payload; passes when Kamailio answers a 4xx/5xx (or `want`) or closes the connection cleanly."""
    try:
        c = connect(args, src)
    except OSError as e:
        check(False, f"{name}: cannot connect ({e})")
        return
    try:
        c.send(payload)
    except OSError:
        pass
    m = c.recv(5)
    while m is not None and m[0].startswith("SIP/2.0 1"):
        m = c.recv(5)
    if m is None:
        check(want is None, f"{name}: connection closed / no answer")
    else:
        code = int(m[0].split()[1]) if m[0].startswith("SIP/2.0") else 0
        if want:
            check(code == want, f"{name}: answered {m[0]} (want {want})")
        else:
            check(400 <= code < 600, f"{name}: answered {m[0]}")
    try:
        c.s.close()
    except OSError:
        pass


def hostile(args):
    lport = 5
    base = [
        ("Via", f"SIP/2.0/TLS 127.0.0.1:{lport};branch=z9hG4bK{rand(10)}"),
        ("Max-Forwards", "70"),
        ("From", f"<sip:+12145551869@wa.meta.vc>;tag={rand(6)}"),
        ("To", f"<sip:{args.number}@{args.server_hostname}>"),
        ("Call-ID", rand(12)),
        ("CSeq", "1 INVITE"),
        ("Contact", "<sip:+12145551869@127.0.0.1:5;transport=tls>"),
    ]
    ruri = f"sip:{args.number};tgrp=wacall@{args.server_hostname}"
    sdp = meta_offer("127.0.0.1", 40500)
    # outside the ACL: same TLS, source 127.0.0.2
    expect_error(args, "INVITE from outside meta_acl", build(f"INVITE {ruri} SIP/2.0", base + [("Content-Type", "application/sdp")], sdp), src="127.0.0.2", want=403)
    # unknown number
    expect_error(args, "INVITE to a number not served", build(f"INVITE sip:+19998887777@{args.server_hostname} SIP/2.0", base, ""), want=404)
    # R-URI user that is not a number
    expect_error(args, "INVITE with a non-E.164 R-URI user", build(f"INVITE sip:alice;tgrp=x@{args.server_hostname} SIP/2.0", base, ""))
    # broken R-URI
    expect_error(args, "INVITE with a broken R-URI", build("INVITE sip:@@;;@@ SIP/2.0", base, ""))
    # broken headers
    bad_hdr = build(f"INVITE {ruri} SIP/2.0", base[:1] + [("From", "<<<sip:::>>>;tag"), ("To", "\x01\x02"), ("CSeq", "notanumber INVITE")] + base[4:5], "")
    expect_error(args, "INVITE with broken From/To/CSeq", bad_hdr)
    # broken SDP
    expect_error(args, "INVITE with a broken SDP body", build(f"INVITE {ruri} SIP/2.0", base + [("Content-Type", "application/sdp")], "this is not sdp\r\nm=\r\n"), want=488)
    # SDP without opus (refused on the way back) is fine to PBX; SDP with a huge line
    big_sdp = meta_offer("127.0.0.1", 40500) + "a=x-junk:" + "A" * 30000 + "\r\n"
    expect_error(args, "INVITE with a 30 kB SDP attribute", build(f"INVITE {ruri} SIP/2.0", [(n, v) if n != "Call-ID" else (n, rand(12)) for n, v in base] + [("Content-Type", "application/sdp")], big_sdp))
    # 1 MB body
    mb = "v=0\r\n" + ("a=" + "B" * 1000 + "\r\n") * 1024
    expect_error(args, "INVITE with a 1 MB body", build(f"INVITE {ruri} SIP/2.0", base + [("Content-Type", "application/sdp")], mb))
    # garbage bytes
    expect_error(args, "random bytes", os.urandom(4096))
    # REGISTER (Meta never registers; refused)
    expect_error(args, "REGISTER", build(f"REGISTER sip:{args.server_hostname} SIP/2.0", base[:5] + [("CSeq", "1 REGISTER")], ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["call", "server", "hostile"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=15061)
    ap.add_argument("--listen", type=int, default=15062)
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--server-hostname", default="sip.example.test")
    ap.add_argument("--meta-domain", default="wa.meta.vc")
    ap.add_argument("--number", default="+12195550714")
    ap.add_argument("--caller", default="+12195550714")
    ap.add_argument("--callee", default="+14155550100")
    ap.add_argument("--password", default="s3cret-pass")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--always-407", action="store_true", help="server: challenge every INVITE (wrong password)")
    ap.add_argument("--sdes", action="store_true", help="server: the number is srtp=SDES (expect and answer SDES)")
    a = ap.parse_args()
    {"call": user_call, "server": serve, "hostile": hostile}[a.mode](a)
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()

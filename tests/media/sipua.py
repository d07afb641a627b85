#!/usr/bin/env python3
"""A minimal SIP UAC over UDP, enough to make baresip answer a call with the SDP the test chose (the relay's
addresses and keys) and to hang up: INVITE / 200 / ACK, BYE / 200. Plus a tiny SDP reader for baresip's answer."""
import random, re, socket, time


def _tag():
    return "%08x" % random.randrange(1 << 32)


class Uac:
    def __init__(self, local_ip, local_port, target_ip, target_port, user="pbx"):
        fam = socket.AF_INET6 if ":" in local_ip else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_DGRAM)
        self.s.bind((local_ip, local_port))
        self.s.settimeout(0.2)
        self.local = (local_ip, local_port)
        self.target = (target_ip, target_port)
        self.user = user
        self.call_id = _tag() + "@wacall-test"
        self.from_tag = _tag()
        self.to_tag = None
        self.remote_contact = f"sip:{user}@{target_ip}:{target_port}"
        self.cseq = 1

    def _host(self, ip, port):
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"

    def _req(self, method, uri, body="", cseq=None, branch=None):
        lh = self._host(*self.local)
        to = f"<sip:{self.user}@{self._host(*self.target)}>" + (f";tag={self.to_tag}" if self.to_tag else "")
        hdr = [f"{method} {uri} SIP/2.0",
               f"Via: SIP/2.0/UDP {lh};rport;branch={branch or 'z9hG4bK' + _tag()}",
               "Max-Forwards: 70",
               f"From: <sip:meta@{lh}>;tag={self.from_tag}",
               f"To: {to}",
               f"Call-ID: {self.call_id}",
               f"CSeq: {cseq or self.cseq} {method}",
               f"Contact: <sip:meta@{lh}>",
               "User-Agent: wacall-e2e"]
        if body:
            hdr.append("Content-Type: application/sdp")
        hdr.append(f"Content-Length: {len(body.encode())}")
        msg = "\r\n".join(hdr) + "\r\n\r\n" + body
        self.s.sendto(msg.encode(), self.target)

    def _wait(self, method, timeout):
        end = time.time() + timeout
        while time.time() < end:
            try:
                data, _ = self.s.recvfrom(65535)
            except socket.timeout:
                continue
            text = data.decode(errors="replace")
            head, _, body = text.partition("\r\n\r\n")
            lines = head.split("\r\n")
            if not lines[0].startswith("SIP/2.0"):
                # A request from baresip (e.g. BYE): answer 200 so it does not retransmit.
                self._answer_request(lines)
                continue
            code = int(lines[0].split()[1])
            hdrs = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                hdrs.setdefault(k.strip().lower(), v.strip())
            if method not in hdrs.get("cseq", ""):
                continue
            if code < 200:
                continue
            return code, hdrs, body
        raise TimeoutError(f"no final response to {method}")

    def _answer_request(self, lines):
        hdrs = [ln for ln in lines[1:] if ln.split(":")[0].strip().lower() in ("via", "from", "to", "call-id", "cseq")]
        msg = "SIP/2.0 200 OK\r\n" + "\r\n".join(hdrs) + "\r\nContent-Length: 0\r\n\r\n"
        self.s.sendto(msg.encode(), self.target)

    def invite(self, sdp, timeout=10):
        """Sends INVITE with `sdp`; returns the answer SDP after ACKing the 200."""
        uri = f"sip:{self.user}@{self._host(*self.target)}"
        branch = "z9hG4bK" + _tag()
        self._req("INVITE", uri, sdp, branch=branch)
        code, hdrs, body = self._wait("INVITE", timeout)
        if code != 200:
            raise RuntimeError(f"INVITE answered {code}")
        m = re.search(r";tag=([^;>\s]+)", hdrs.get("to", "") or hdrs.get("t", ""))
        self.to_tag = m.group(1) if m else None
        c = re.search(r"<([^>]+)>", hdrs.get("contact", "") or hdrs.get("m", ""))
        if c:
            self.remote_contact = c.group(1)
        self._req("ACK", self.remote_contact, cseq=self.cseq)
        return body

    def bye(self, timeout=3):
        self.cseq += 1
        self._req("BYE", self.remote_contact)
        try:
            return self._wait("BYE", timeout)[0]
        except TimeoutError:
            return None

    def close(self):
        self.s.close()


def parse_sdp(sdp):
    """What the relay needs from an SDP: address, port, crypto, fingerprint, ICE, opus PT, setup."""
    r = {"candidates": []}
    conn = None
    for ln in sdp.replace("\r\n", "\n").split("\n"):
        if ln.startswith("c=IN "):
            conn = ln.split()[2]
        elif ln.startswith("m=audio "):
            f = ln.split()
            r["port"], r["proto"], r["pts"] = int(f[1]), f[2], [int(x) for x in f[3:]]
            if conn:
                r["conn_session"] = conn
        elif ln.startswith("a=crypto:"):
            f = ln.split()
            if len(f) >= 3 and "crypto" not in r:
                r["crypto"] = {"suite": f[1], "key": f[2].split("inline:", 1)[1].split("|")[0]}
        elif ln.startswith("a=fingerprint:"):
            r["fingerprint"] = ln[len("a=fingerprint:"):].strip()
        elif ln.startswith("a=ice-ufrag:"):
            r["ice_ufrag"] = ln.split(":", 1)[1].strip()
        elif ln.startswith("a=ice-pwd:"):
            r["ice_pwd"] = ln.split(":", 1)[1].strip()
        elif ln.startswith("a=ice-lite"):
            r["ice_lite"] = True
        elif ln.startswith("a=setup:"):
            r["setup"] = ln.split(":", 1)[1].strip()
        elif ln.startswith("a=candidate:"):
            f = ln[len("a=candidate:"):].split()
            if len(f) >= 8 and f[2].lower() == "udp":
                r["candidates"].append({"foundation": f[0], "component": int(f[1]), "priority": int(f[3]),
                                        "addr": (f"[{f[4]}]:{f[5]}" if ":" in f[4] else f"{f[4]}:{f[5]}")})
        elif ln.startswith("a=rtpmap:"):
            pt, _, enc = ln[len("a=rtpmap:"):].partition(" ")
            if enc.lower().startswith("opus/"):
                r["opus_pt"] = int(pt)
            elif enc.lower().startswith("telephone-event/"):
                r["dtmf_pt"] = int(pt)
    r["conn"] = conn
    if conn and "port" in r:
        r["addr"] = f"[{conn}]:{r['port']}" if ":" in conn else f"{conn}:{r['port']}"
    return r


def offer_sdp(addr, proto, crypto=None, ice=None, fingerprint=None, setup=None, candidates=()):
    """An SDP offer from the relay's side (what core-sdp would produce), opus 111 + telephone-event 126."""
    host, port = addr.rsplit(":", 1)
    host = host.strip("[]")
    ipv = "IP6" if ":" in host else "IP4"
    lines = ["v=0", f"o=- {random.randrange(1 << 30)} 1 IN {ipv} {host}", "s=wacall", f"c=IN {ipv} {host}", "t=0 0",
             f"m=audio {port} {proto} 111 126", "a=rtpmap:111 opus/48000/2",
             "a=fmtp:111 minptime=20;useinbandfec=1", "a=rtpmap:126 telephone-event/8000", "a=rtcp-mux",
             "a=sendrecv"]
    if crypto:
        lines.append(f"a=crypto:1 {crypto['suite']} inline:{crypto['key']}")
    if ice:
        lines += [f"a=ice-ufrag:{ice[0]}", f"a=ice-pwd:{ice[1]}"]
        for i, c in enumerate(candidates):
            h, p = c.rsplit(":", 1)
            lines.append(f"a=candidate:{i + 1} 1 udp {2130706431 - i} {h.strip('[]')} {p} typ host")
    if fingerprint:
        lines.append(f"a=fingerprint:{fingerprint}")
    if setup:
        lines.append(f"a=setup:{setup}")
    return "\r\n".join(lines) + "\r\n"


BARESIP_CONFIG = """poll_method epoll
sip_listen {sip_host}:{sip_port}
sip_trans_def udp
audio_player alsa,null
audio_alert alsa,null
audio_source ausine,{tone}
ausrc_srate 48000
ausrc_channels 2
auplay_srate 48000
auplay_channels 2
audio_buffer 20-160
jitter_buffer_delay 2-10
rtp_timeout 0
rtcp_mux yes
{net_if}module_path /usr/lib/baresip/modules
module opus.so
module ausine.so
module alsa.so
module sndfile.so
module srtp.so
module dtls_srtp.so
module ice.so
module_app account.so
module_app menu.so
snd_path {snd_path}
opus_bitrate 32000
"""


def baresip_start(workdir, name, sip_host, sip_port, tone, mediaenc=None, medianat=None, net_if=None, netns=None,
                  seconds=30):
    """Starts baresip answering calls automatically; it records decoded audio to {workdir}/{name}-snd/."""
    import os, subprocess
    cfgdir = os.path.join(workdir, f"{name}-baresip")
    snd = os.path.join(workdir, f"{name}-snd")
    os.makedirs(cfgdir, exist_ok=True)
    os.makedirs(snd, exist_ok=True)
    with open(os.path.join(cfgdir, "config"), "w") as f:
        f.write(BARESIP_CONFIG.format(sip_host=sip_host, sip_port=sip_port, tone=tone, snd_path=snd, net_if=f"net_interface {net_if}\n" if net_if else ""))
    params = ";regint=0;answermode=auto;audio_codecs=opus"
    if mediaenc:
        params += f";mediaenc={mediaenc}"
    if medianat:
        params += f";medianat={medianat}"
    with open(os.path.join(cfgdir, "accounts"), "w") as f:
        f.write(f"<sip:pbx@{sip_host}:{sip_port}>{params}\n")
    cmd = ["baresip", "-f", cfgdir, "-t", str(seconds)]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    log = open(os.path.join(workdir, f"{name}-baresip.log"), "w")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    return p, snd

#!/usr/bin/env python3
"""Real-media end-to-end tests of wacall's relay.

Starts wacall-relayd (or uses a control socket given with --socket, e.g. one Kamailio's module forked), drives it
over its JSON-lines control socket like a host would, puts tools/meta-peer (Meta-like: ice-lite, DTLS server, waits
for the maiden packet) or baresip (dtls_srtp+ice, in a network namespace) on Meta's side and meta-peer or baresip
(srtp / plain RTP) on the PBX side, sends a tone from each end and checks the other end recorded it.

usage: e2e.py --bin DIR --work DIR [--only NAME] [--socket PATH]
Prints one line per check and ends with 'N passed, N failed'.
"""
import argparse, json, os, random, shutil, signal, socket, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tone  # noqa: E402
import sipua  # noqa: E402

PASSED, FAILED = [], []


def check(name, ok, detail=""):
    (PASSED if ok else FAILED).append(name)
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f"  {detail}" if detail else ""), flush=True)


class Control:
    """The host's side of the control channel (what Kamailio's module does through relay::Client)."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(5)
        self.s.connect(path)
        self.f = self.s.makefile("rwb")

    def req(self, **kw):
        self.f.write((json.dumps(kw) + "\n").encode())
        self.f.flush()
        line = self.f.readline()
        if not line:
            raise RuntimeError("relay closed the control connection")
        r = json.loads(line)
        if r.get("reply") == "error":
            raise RuntimeError(f"relay error: {r}")
        return r


class Relay:
    def __init__(self, bindir, work, port_min=41000, port_max=41999, extra=None):
        self.path = os.path.join(work, "relay.sock")
        if os.path.exists(self.path):
            os.remove(self.path)
        cfg = {"port_min": port_min, "port_max": port_max, "workers": 2, "media_timeout_secs": 30,
               "meta": {"ipv4": "127.0.0.1", "ipv6": "::1"}, "pbx": {"ipv4": "127.0.0.1", "ipv6": "::1"}}
        cfg.update(extra or {})
        cfgp = os.path.join(work, "relay.json")
        with open(cfgp, "w") as f:
            json.dump(cfg, f)
        self.log = open(os.path.join(work, "relay.log"), "w")
        self.p = subprocess.Popen([os.path.join(bindir, "wacall-relayd"), self.path, cfgp], stderr=self.log,
                                  env=dict(os.environ, WACALL_LOG=os.environ.get("WACALL_LOG", "info")))
        for _ in range(200):
            if os.path.exists(self.path):
                break
            time.sleep(0.02)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(3)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def meta_peer(bindir, work, name, mode, tone_hz, duration, bind="127.0.0.1:0", extra=()):
    info = os.path.join(work, f"{name}.info.json")
    remote = os.path.join(work, f"{name}.remote.json")
    for f in (info, remote):
        if os.path.exists(f):
            os.remove(f)
    args = [os.path.join(bindir, "meta-peer"), "--mode", mode, "--bind", bind, "--info-out", info,
            "--remote-in", remote, "--tone", str(tone_hz), "--duration", str(duration),
            "--record", os.path.join(work, f"{name}.wav"), "--summary", os.path.join(work, f"{name}.summary.json"),
            *extra]
    err = open(os.path.join(work, f"{name}.log"), "w")
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
    for _ in range(250):
        if os.path.exists(info):
            break
        time.sleep(0.02)
    with open(info) as f:
        return p, json.load(f), remote


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path)


def remote_leg_from_peer(info, mode):
    """What core-sdp would map from the peer's SDP: the relay's RemoteLeg."""
    host, port = info["addr"].rsplit(":", 1)
    r = {"addr": info["addr"], "audio_pt": info.get("pt", 111), "dtmf_pt": 126}
    if mode == "dtls":
        r.update(ice_ufrag=info["ice_ufrag"], ice_pwd=info["ice_pwd"], ice_lite=True,
                 fingerprint=info["fingerprint"],
                 candidates=[{"addr": info["addr"], "priority": 2130706431, "foundation": "1", "component": 1}])
    elif mode == "sdes":
        r["sdes"] = info["sdes"]
    return r


def summary(work, name):
    try:
        with open(os.path.join(work, f"{name}.summary.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def tone_ok(work, name, freq, label, want=True):
    path = os.path.join(work, f"{name}.wav")
    try:
        r = tone.analyse(path, freq)
    except Exception as e:  # noqa: BLE001 - a missing/broken file is a failed check
        r = {"why": str(e)}
    ok = r.get("tone_ratio", 0) >= 0.5 and r.get("level_dbfs", -200) >= -40
    check(label, ok == want, json.dumps({k: r.get(k) for k in ("seconds", "tone_ratio", "level_dbfs", "why") if k in r}))
    return r


def start_call(args, ctl, name, meta_mode, pbx_mode, duration=6, meta_extra=(), pbx_extra=(), wrong_fp=False,
               family="ipv4", meta_bind=None):
    """Meta-like peer <-> relay <-> meta-peer as PBX (sdes or rtp); returns what finish_call needs."""
    call = f"{name}-{random.randrange(1 << 30)}"
    alloc = ctl.req(cmd="allocate", call_id=call, meta={"transport": meta_mode, "family": family},
                    pbx={"transport": pbx_mode})
    bind = meta_bind or ("[::1]:0" if family == "ipv6" else "127.0.0.1:0")
    mp, minfo, mremote = meta_peer(args.bin, args.work, f"{name}-meta", meta_mode, 1000, duration, bind, meta_extra)
    pp, pinfo, premote = meta_peer(args.bin, args.work, f"{name}-pbx", pbx_mode, 440, duration, "127.0.0.1:0",
                                   ("--no-wait-maiden", *pbx_extra))
    ma, pa = alloc["meta"], alloc["pbx"]
    # The address of the relay's Meta leg in the peer's family (a dual leg has one socket per family).
    v6 = bind.startswith("[")
    maddr = next((a for a in ma["addrs"] if a.startswith("[") == v6), ma["addrs"][0])
    write_json(mremote, {"addr": maddr, "fingerprint": ma.get("fingerprint"), "sdes": ma.get("sdes")})
    write_json(premote, {"addr": pa["addrs"][0], "sdes": pa.get("sdes")})
    mleg = remote_leg_from_peer(minfo, meta_mode)
    if wrong_fp:
        fp = mleg["fingerprint"].split()
        h = fp[1].split(":")
        h[0] = "00" if h[0] != "00" else "11"
        mleg["fingerprint"] = fp[0] + " " + ":".join(h)
    ctl.req(cmd="update", call_id=call, meta=mleg, pbx=remote_leg_from_peer(pinfo, pbx_mode))
    return {"name": name, "call": call, "procs": (mp, pp), "duration": duration, "alloc": alloc}


def finish_call(args, ctl, c, expect_media=True):
    name = c["name"]
    for p in c["procs"]:
        p.wait(c["duration"] + 10)
    st = ctl.req(cmd="stats", call_id=c["call"])
    ctl.req(cmd="delete", call_id=c["call"])
    ms, ps = summary(args.work, f"{name}-meta"), summary(args.work, f"{name}-pbx")
    m, p = st["meta"], st["pbx"]
    figs = (f"meta-peer rx={ms.get('rtp_in', 0)} tx={ms.get('rtp_out', 0)} dtls={ms.get('dtls')} | pbx rx="
            f"{ps.get('rtp_in', 0)} tx={ps.get('rtp_out', 0)} | relay meta in/out={m['packets_in']}/{m['packets_out']} "
            f"drops={m['drops']} auth={m['auth_failures']} replays={m['replays']} state={m['state']} | pbx in/out="
            f"{p['packets_in']}/{p['packets_out']} drops={p['drops']} auth={p['auth_failures']}")
    if expect_media:
        check(f"{name}: Meta side got media, maiden rule kept",
              ms.get("rtp_in", 0) > 0 and not ms.get("sent_before_maiden"), figs)
        tone_ok(args.work, f"{name}-meta", 440, f"{name}: PBX tone (440 Hz) heard on Meta side")
        tone_ok(args.work, f"{name}-pbx", 1000, f"{name}: Meta tone (1000 Hz) heard on PBX side")
    else:
        check(f"{name}: no media reaches either side", ms.get("rtp_in", 0) == 0 and ps.get("rtp_in", 0) == 0, figs)
    return st, ms, ps


def peer_to_peer(args, ctl, name, meta_mode, pbx_mode, expect_media=True, **kw):
    return finish_call(args, ctl, start_call(args, ctl, name, meta_mode, pbx_mode, **kw), expect_media)


def attacker(targets, seconds, counts):
    """Sends garbage, truncated, STUN/DTLS-shaped junk and forged SRTP to every port from a foreign source."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Start once media flows: a plain-RTP leg can only be protected by its latch, and a spoofer that sends before
    # the PBX's first packet can take the latch (see the report: exact-SDP-address re-latching would fix it).
    time.sleep(1.0)
    end = time.time() + seconds
    junk = [b"\xff" * 50, b"\x80", b"\x80\x6f\x00", bytes([0x80, 111]) + bytes(10),
            b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12),  # STUN request without integrity
            bytes([22, 254, 253]) + os.urandom(40),  # DTLS-shaped
            bytes([0x80, 111, 0, 9, 0, 0, 1, 0, 1, 2, 3, 4]) + os.urandom(170)]  # forged SRTP
    n = 0
    while time.time() < end:
        for t in targets:
            for j in junk:
                try:
                    s.sendto(j, t)
                    n += 1
                except OSError:
                    pass
        time.sleep(0.01)
    counts["sent"] = n


def attack_scenario(args, ctl):
    """Two DTLS<->SDES calls; one's Meta peer replays and forges packets from its own (ICE-selected) address, and a
    foreign source floods every port of both calls with junk. Both calls must keep their audio."""
    import threading
    a = start_call(args, ctl, "attacked", "dtls", "sdes", duration=7, meta_extra=("--replay-every", "5",
                                                                                  "--forge-every", "7"),
                   pbx_extra=("--replay-every", "6", "--forge-every", "9"))
    b = start_call(args, ctl, "bystander", "dtls", "rtp", duration=7)
    targets = []
    for c in (a, b):
        for leg in ("meta", "pbx"):
            h, p = c["alloc"][leg]["addrs"][0].rsplit(":", 1)
            targets.append((h.strip("[]"), int(p)))
    counts = {}
    t = threading.Thread(target=attacker, args=(targets, 4.5, counts))
    t.start()
    sa, _, _ = finish_call(args, ctl, a)
    sb, _, _ = finish_call(args, ctl, b)
    t.join()
    m, p = sa["meta"], sa["pbx"]
    check("attack: replays and forgeries from the selected source rejected by SRTP",
          m["auth_failures"] > 0 and m["replays"] > 0 and p["auth_failures"] > 0 and p["replays"] > 0,
          f"meta auth={m['auth_failures']} replays={m['replays']} pbx auth={p['auth_failures']} replays={p['replays']}")
    junk_per_port = counts.get("sent", 0) // max(len(targets), 1)
    dropped = [sa["meta"]["drops"], sa["pbx"]["drops"], sb["meta"]["drops"], sb["pbx"]["drops"]]
    check("attack: junk on every port dropped and counted", all(d >= junk_per_port * 0.9 for d in dropped),
          f"junk per port={junk_per_port} drops={dropped}")


def newest_dec_wav(snd):
    import glob
    files = sorted(glob.glob(os.path.join(snd, "*dec*.wav")), key=os.path.getmtime)
    return files[-1] if files else None


def baresip_pbx(args, ctl, name, meta_mode, pbx_mode, sip_port, duration=8):
    """meta-peer (Meta side) <-> relay <-> baresip as the PBX (srtp = SDES, or plain RTP), called over SIP."""
    call = f"{name}-{random.randrange(1 << 30)}"
    alloc = ctl.req(cmd="allocate", call_id=call, meta={"transport": meta_mode}, pbx={"transport": pbx_mode})
    ma, pa = alloc["meta"], alloc["pbx"]
    bp, snd = sipua.baresip_start(args.work, name, "127.0.0.1", sip_port, 440,
                                  mediaenc="srtp-mand" if pbx_mode == "sdes" else None, seconds=duration + 10)
    uac = sipua.Uac("127.0.0.1", sip_port - 10, "127.0.0.1", sip_port)
    try:
        offer = sipua.offer_sdp(pa["addrs"][0], "RTP/SAVP" if pbx_mode == "sdes" else "RTP/AVP", crypto=pa.get("sdes"))
        answer = sipua.parse_sdp(uac.invite(offer))
        pbx_leg = {"addr": answer["addr"], "audio_pt": answer.get("opus_pt", 111),
                   "dtmf_pt": answer.get("dtmf_pt")}
        if pbx_mode == "sdes":
            pbx_leg["sdes"] = answer["crypto"]
        mp, minfo, mremote = meta_peer(args.bin, args.work, f"{name}-meta", meta_mode, 1000, duration)
        write_json(mremote, {"addr": ma["addrs"][0], "fingerprint": ma.get("fingerprint"), "sdes": ma.get("sdes")})
        ctl.req(cmd="update", call_id=call, meta=remote_leg_from_peer(minfo, meta_mode), pbx=pbx_leg)
        mp.wait(duration + 10)
        st = ctl.req(cmd="stats", call_id=call)
        uac.bye()
    finally:
        uac.close()
        try:
            bp.wait(5)
        except subprocess.TimeoutExpired:
            bp.terminate()
            bp.wait(3)
    ctl.req(cmd="delete", call_id=call)
    ms = summary(args.work, f"{name}-meta")
    m, p = st["meta"], st["pbx"]
    figs = (f"meta-peer rx={ms.get('rtp_in', 0)} tx={ms.get('rtp_out', 0)} dtls={ms.get('dtls')} | relay meta "
            f"in/out={m['packets_in']}/{m['packets_out']} drops={m['drops']} | pbx in/out={p['packets_in']}/"
            f"{p['packets_out']} drops={p['drops']} auth={p['auth_failures']} rtcp_in={p['rtcp_in']} state={p['state']}")
    check(f"{name}: Meta side got media, maiden rule kept",
          ms.get("rtp_in", 0) > 0 and not ms.get("sent_before_maiden"), figs)
    tone_ok(args.work, f"{name}-meta", 440, f"{name}: baresip tone (440 Hz) heard on Meta side")
    wav = newest_dec_wav(snd)
    if wav:
        shutil.copy(wav, os.path.join(args.work, f"{name}-pbx.wav"))
    tone_ok(args.work, f"{name}-pbx", 1000, f"{name}: Meta tone (1000 Hz) heard by baresip")


def baresip_meta(args, ctl, name, sip_port, duration=8, setup="active"):
    """Cross-check with an independent DTLS+ICE stack: baresip (dtls_srtp + ice) on Meta's side, the relay offering
    it full ICE (controlling) and DTLS as client; meta-peer as an SDES PBX. Runs inside a network namespace whose lo
    carries 198.51.100.1 (relay) and 198.51.100.2 (baresip): baresip's ICE ignores 127.x."""
    call = f"{name}-{random.randrange(1 << 30)}"
    alloc = ctl.req(cmd="allocate", call_id=call, meta={"transport": "dtls"}, pbx={"transport": "sdes"})
    ma, pa = alloc["meta"], alloc["pbx"]
    bp, snd = sipua.baresip_start(args.work, name, args.peer_ip, sip_port, 1000, mediaenc="dtls_srtp",
                                  medianat="ice", seconds=duration + 10)
    uac = sipua.Uac(args.peer_ip, sip_port - 10, args.peer_ip, sip_port)
    try:
        offer = sipua.offer_sdp(ma["addrs"][0], "UDP/TLS/RTP/SAVPF", ice=(ma["ice_ufrag"], ma["ice_pwd"]),
                                fingerprint=ma["fingerprint"], setup=setup, candidates=ma["addrs"])
        ans = sipua.parse_sdp(uac.invite(offer))
        meta_leg = {"addr": ans["addr"], "ice_ufrag": ans.get("ice_ufrag"), "ice_pwd": ans.get("ice_pwd"),
                    "ice_lite": bool(ans.get("ice_lite")), "fingerprint": ans.get("fingerprint"),
                    "candidates": [c for c in ans["candidates"] if c["component"] == 1],
                    "audio_pt": ans.get("opus_pt", 111), "dtmf_pt": ans.get("dtmf_pt")}
        pp, pinfo, premote = meta_peer(args.bin, args.work, f"{name}-pbx", "sdes", 440, duration, "127.0.0.1:0",
                                       ("--no-wait-maiden",))
        write_json(premote, {"addr": pa["addrs"][0], "sdes": pa.get("sdes")})
        ctl.req(cmd="update", call_id=call, meta=meta_leg, pbx=remote_leg_from_peer(pinfo, "sdes"))
        pp.wait(duration + 10)
        st = ctl.req(cmd="stats", call_id=call)
        uac.bye()
    finally:
        uac.close()
        try:
            bp.wait(5)
        except subprocess.TimeoutExpired:
            bp.terminate()
            bp.wait(3)
    ctl.req(cmd="delete", call_id=call)
    m, p = st["meta"], st["pbx"]
    ps = summary(args.work, f"{name}-pbx")
    figs = (f"baresip setup={ans.get('setup')} cands={len(ans['candidates'])} | relay meta in/out="
            f"{m['packets_in']}/{m['packets_out']} drops={m['drops']} auth={m['auth_failures']} state={m['state']} "
            f"rtcp_in={m['rtcp_in']} | pbx peer rx={ps.get('rtp_in', 0)} tx={ps.get('rtp_out', 0)}")
    check(f"{name}: ICE + DTLS with baresip reached secure", m["state"] in ("secure", "dtls"), figs)
    wav = newest_dec_wav(snd)
    if wav:
        shutil.copy(wav, os.path.join(args.work, f"{name}-meta.wav"))
    tone_ok(args.work, f"{name}-meta", 440, f"{name}: PBX tone (440 Hz) heard by baresip (Meta side)")
    tone_ok(args.work, f"{name}-pbx", 1000, f"{name}: baresip tone (1000 Hz) heard on PBX side")


def crash_scenario(args, relay):
    """The relay process dies mid-call (kill -9): the host's control requests fail fast with an error instead of
    hanging, and a restarted relay on the same socket serves new calls with audio."""
    ctl = Control(relay.path)
    call = f"crash-{random.randrange(1 << 30)}"
    ctl.req(cmd="allocate", call_id=call, meta={"transport": "sdes"}, pbx={"transport": "rtp"})
    relay.p.kill()
    relay.p.wait()
    t0 = time.time()
    try:
        ctl.req(cmd="stats", call_id=call)
        err = None
    except Exception as e:  # noqa: BLE001
        err = e
    check("crash: request to a dead relay fails fast", err is not None and time.time() - t0 < 5.5,
          f"{type(err).__name__}: {err} after {time.time() - t0:.2f}s")
    relay.__init__(args.bin, args.work)
    ctl2 = Control(relay.path)
    check("crash: restarted relay answers", ctl2.req(cmd="ping").get("calls") == 0)
    peer_to_peer(args, ctl2, "after-restart", "sdes", "rtp", duration=4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--socket", default="")
    ap.add_argument("--netns", action="store_true", help="running inside the test's network namespace")
    ap.add_argument("--relay-ip", default="198.51.100.1")
    ap.add_argument("--peer-ip", default="198.51.100.2")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    relay = None
    if args.socket:
        path = args.socket
    else:
        extra = None
        if args.netns:
            extra = {"meta": {"ipv4": args.relay_ip}, "pbx": {"ipv4": "127.0.0.1"}}
        relay = Relay(args.bin, args.work, extra=extra)
        path = relay.path
    try:
        ctl = Control(path)
        check("relay answers ping", ctl.req(cmd="ping").get("reply") == "pong")
        tests = {
            "rtp-rtp": lambda: peer_to_peer(args, ctl, "rtp-rtp", "rtp", "rtp"),
            "sdes-rtp": lambda: peer_to_peer(args, ctl, "sdes-rtp", "sdes", "rtp"),
            "sdes-sdes": lambda: peer_to_peer(args, ctl, "sdes-sdes", "sdes", "sdes"),
            "dtls-sdes": lambda: peer_to_peer(args, ctl, "dtls-sdes", "dtls", "sdes"),
            "dtls-rtp": lambda: peer_to_peer(args, ctl, "dtls-rtp", "dtls", "rtp"),
            "dtls-sdes-v6": lambda: peer_to_peer(args, ctl, "dtls-sdes-v6", "dtls", "sdes", family="ipv6"),
            "dtls-dual-v6": lambda: peer_to_peer(args, ctl, "dtls-dual-v6", "dtls", "sdes", family="dual",
                                                 meta_bind="[::1]:0"),
            "dtls-wrong-fp": lambda: peer_to_peer(args, ctl, "dtls-wrong-fp", "dtls", "sdes", duration=4,
                                                  expect_media=False, wrong_fp=True),
            "attack": lambda: attack_scenario(args, ctl),
            "baresip-sdes-pbx": lambda: baresip_pbx(args, ctl, "baresip-sdes-pbx", "dtls", "sdes", 15110),
            "baresip-rtp-pbx": lambda: baresip_pbx(args, ctl, "baresip-rtp-pbx", "dtls", "rtp", 15120),
        }
        if args.netns:
            tests = {"baresip-dtls-meta": lambda: baresip_meta(args, ctl, "baresip-dtls-meta", 15140)}
        for name, t in tests.items():
            if args.only and args.only not in name:
                continue
            try:
                t()
            except Exception as e:  # noqa: BLE001 - one broken scenario must not hide the others
                check(f"{name}: ran", False, repr(e))
        if relay:
            check("relay still running after all scenarios", relay.p.poll() is None)
            if not args.netns and (not args.only or "crash" in args.only):
                try:
                    crash_scenario(args, relay)
                except Exception as e:  # noqa: BLE001
                    check("crash: ran", False, repr(e))
    finally:
        if relay:
            relay.stop()
    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    return 0 if not FAILED else 1


if __name__ == "__main__":
    sys.exit(main())

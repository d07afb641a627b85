#!/usr/bin/env python3
"""Does a sofia gateway answer Meta's 407 the way Meta wants? Run by hand against a real FreeSWITCH (VERIFIED.md).

Plays Meta's SIP server on 127.0.0.1:16120: originates (over ESL) a call through gateway GATEWAY, answers the INVITE
with 407 and Meta's two challenges (SHA-256 first, then MD5, as Meta sends since 2026), and checks the re-sent
INVITE's Proxy-Authorization: algorithm, username (the number without '+'), uri (equal to the R-URI), and the
response, recomputed here from PASSWORD. Answers 486 in the end either way.

usage: gateway_digest.py ESL_ADDR GATEWAY NUMBER PASSWORD [--sha256-only]
"""
import hashlib
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from real_fs_call_to_meta import esl  # noqa: E402


def reply(msg, status, extra=""):
    hdrs = [l for l in msg.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
            if l.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")]
    hdrs = [h + ";tag=meta1" if h.lower().startswith("to:") and "tag=" not in h else h for h in hdrs]
    return (f"SIP/2.0 {status}\r\n" + "\r\n".join(hdrs) + f"\r\n{extra}Content-Length: 0\r\n\r\n").encode()


def main():
    esl_addr, gateway, number, password = sys.argv[1:5]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 16120))
    s.settimeout(10)
    print("originate:", esl(esl_addr, f"bgapi originate sofia/gateway/{gateway}/+15557770000 &park").strip())
    nonce = "Y2hhbGxlbmdlLWZyb20tbWV0YQ"
    challenge = f'Proxy-Authenticate: Digest realm="wa.meta.vc", nonce="{nonce}", algorithm=SHA-256, qop="auth"\r\n'
    if "--sha256-only" not in sys.argv:
        challenge += f'Proxy-Authenticate: Digest realm="wa.meta.vc", nonce="{nonce}", algorithm=MD5, qop="auth"\r\n'
    s.settimeout(5)
    seen = 0
    result, checks = "FAIL", {}
    while seen < 2:
        try:
            msg, src = s.recvfrom(65535)
        except socket.timeout:
            print("-- no second INVITE: the gateway did not answer the challenge")
            break
        msg = msg.decode(errors="replace")
        if not msg.startswith("INVITE "):
            continue
        seen += 1
        ruri = msg.split(" ")[1]
        auth = re.search(r"^Proxy-Authorization: (.*)$", msg, re.M | re.I)
        print(f"-> INVITE #{seen} {ruri}")
        if not auth:
            s.sendto(reply(msg, "407 Proxy Authentication Required", challenge), src)
            print("<- 407 with", "a SHA-256 challenge" if "--sha256-only" in sys.argv else "SHA-256 and MD5 challenges")
            continue
        a = auth.group(1)
        print("   Proxy-Authorization:", a)
        p = {k: v1 or v2 for k, v1, v2 in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', a)}
        alg = p.get("algorithm", "MD5").upper()
        h = (lambda x: hashlib.sha256(x.encode()).hexdigest()) if alg == "SHA-256" else \
            (lambda x: hashlib.md5(x.encode()).hexdigest())
        ha1 = h(f"{p.get('username')}:{p.get('realm')}:{password}")
        ha2 = h(f"INVITE:{p.get('uri')}")
        want = h(f"{ha1}:{p.get('nonce')}:{p.get('nc')}:{p.get('cnonce')}:{p.get('qop')}:{ha2}") if p.get("qop") \
            else h(f"{ha1}:{p.get('nonce')}:{ha2}")
        checks = {
            "algorithm": alg,
            "username is the number without +": p.get("username") == number.lstrip("+"),
            "uri equals the R-URI": p.get("uri") == ruri,
            "response correct": p.get("response") == want,
        }
        print("   checks:", checks)
        result = "PASS" if all(v is True for k, v in checks.items() if k != "algorithm") else "FAIL"
        s.sendto(reply(msg, "486 Busy Here"), src)
    print("RESULT", result, "algorithm", checks.get("algorithm"))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Checks a recorded WAV for a tone: Goertzel power at the expected frequency vs. total power, and RMS level.

usage: tone.py FILE.wav FREQ [--min-dbfs -40] [--min-ratio 0.5] [--skip SECS]
Prints one JSON line; exit 0 when the tone is there (dominant and loud enough), 1 otherwise.
"""
import json, math, struct, sys, wave


def analyse(path, freq, skip=0.5):
    w = wave.open(path, "rb")
    ch, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
    raw = w.readframes(n)
    if width != 2:
        raise SystemExit(f"{path}: only 16-bit WAV supported")
    s = struct.unpack("<%dh" % (len(raw) // 2), raw)
    mono = [sum(s[i:i + ch]) / ch for i in range(0, len(s), ch)]
    mono = mono[int(skip * rate):]
    if len(mono) < rate // 10:
        return {"file": path, "ok": False, "seconds": len(mono) / rate, "why": "too short"}
    # Goertzel over 100 ms blocks; report the median block so gaps or a start-up glitch do not dominate.
    blk = rate // 10
    k = 2 * math.cos(2 * math.pi * freq / rate)
    ratios, levels = [], []
    for b in range(0, len(mono) - blk + 1, blk):
        x = mono[b:b + blk]
        s1 = s2 = 0.0
        for v in x:
            s0 = v + k * s1 - s2
            s2, s1 = s1, s0
        p = s1 * s1 + s2 * s2 - k * s1 * s2  # |X(f)|^2
        energy = sum(v * v for v in x)
        tone_energy = 2 * p / blk  # energy of a sinusoid with that DFT magnitude
        ratios.append(tone_energy / energy if energy > 0 else 0.0)
        levels.append(20 * math.log10(max(math.sqrt(energy / blk), 1e-9) / 32768))
    ratios.sort()
    levels.sort()
    med = lambda a: a[len(a) // 2]
    return {"file": path, "seconds": round(len(mono) / rate, 2), "rate": rate, "freq": freq,
            "tone_ratio": round(med(ratios), 3), "level_dbfs": round(med(levels), 1),
            "blocks_with_tone": sum(1 for r in ratios if r > 0.5), "blocks": len(ratios)}


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) < 2:
        raise SystemExit(__doc__)
    opts = {"--min-dbfs": -40.0, "--min-ratio": 0.5, "--skip": 0.5}
    for i in range(2, len(a) - 1, 2):
        opts[a[i]] = float(a[i + 1])
    r = analyse(a[0], float(a[1]), opts["--skip"])
    r["ok"] = r.get("tone_ratio", 0) >= opts["--min-ratio"] and r.get("level_dbfs", -200) >= opts["--min-dbfs"]
    print(json.dumps(r))
    sys.exit(0 if r["ok"] else 1)

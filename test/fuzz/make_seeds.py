#!/usr/bin/python3
"""Write the committed seed corpus of the stripe_sig fuzz targets.

    /usr/bin/python3 test/fuzz/make_seeds.py      (rewrites test/fuzz/corpus/)

Seeds are realistic Stripe-Signature headers (as Stripe sends them: t, one
or two v1, a v0 in test mode) and the edge cases of the header grammar
(as Stripe's Python and Node libraries read it): whitespace, signs,
leading zeros, duplicate t, "=" inside values, empty/bare elements, numbers
at the JavaScript and int64 limits, non-ASCII, NUL bytes, the 8 KiB and 64
v1 limits.  Signatures are computed here with Python's hmac, independently
of the C code.  The layouts of the binary seeds are described at the top of
fuzz_verify.c and fuzz_sign_verify.c.  Output is deterministic.
"""
import hashlib
import hmac
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
FIXTURES = os.environ.get("SW_FIXTURES", os.path.join(HERE, "..", "fixtures"))

SECRET = b"whsec_test_51JxYzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
ROLLED = b"whsec_rolled_0123456789abcdefghijklmnopqrstuvwxyzABCD"
T = 1785000312


def sig(secret, t, payload):
    """Stripe's v1: hex HMAC-SHA256(secret, "<t>." payload)."""
    return hmac.new(secret, b"%d." % t + payload, hashlib.sha256).hexdigest().encode()


def payloads():
    """Realistic event bodies (the shared fixtures) plus small odd ones."""
    out = {}
    names = sorted(f for f in os.listdir(FIXTURES) if f.startswith("event.")) if os.path.isdir(FIXTURES) else []
    for name in names[:3]:
        with open(os.path.join(FIXTURES, name), "rb") as f:
            out[name[len("event."):-len(".json")]] = f.read()
    out["small_json"] = b'{"id":"evt_1","object":"event","type":"checkout.session.completed"}'
    out["compact_reserialised"] = json.dumps({"id": "evt_1", "object": "event"}, separators=(",", ":")).encode()
    out["bom"] = b"\xef\xbb\xbf" + out["small_json"]
    out["crlf"] = out["small_json"].replace(b",", b",\r\n")
    out["nul"] = b'{"id":"evt_\x00"}'
    out["invalid_utf8"] = b'{"name":"Zo\xeb"}'
    out["utf8"] = '{"name":"Zoë Müller 東京"}'.encode()
    out["one_byte"] = b"x"
    return out


def header_seeds():
    """name -> header bytes for fuzz_header."""
    p = b'{"id":"evt_1","object":"event"}'
    s = sig(SECRET, T, p)
    r = sig(ROLLED, T, p)
    v0 = hashlib.sha256(b"v0" + p).hexdigest().encode()
    seeds = {
        "stripe_live": b"t=%d,v1=%s" % (T, s),
        "stripe_test_mode_v0": b"t=%d,v1=%s,v0=%s" % (T, s, v0),
        "rolled_secret_two_v1": b"t=%d,v1=%s,v1=%s" % (T, s, r),
        "v1_first": b"v1=%s,t=%d" % (s, T),
        "only_v0": b"t=%d,v0=%s" % (T, v0),
        "empty": b"",
        "t_empty": b"t=",
        "t_bare": b"t,v1=%s" % s,
        "v1_empty": b"t=%d,v1=" % T,
        "v1_bare": b"t=%d,v1" % T,
        "v1_empty_then_good": b"t=%d,v1=,v1=%s" % (T, s),
        "no_t": b"v1=%s" % s,
        "garbage": b"i'm not even a real signature header",
        "bad_header": b"bad_header",
        "commas": b",,,",
        "empty_elements": b",t=%d,,v1=%s," % (T, s),
        "space_after_comma": b"t=%d, v1=%s" % (T, s),
        "space_before_comma": b"t=%d ,v1=%s" % (T, s),
        "t_leading_space": b"t= %d,v1=%s" % (T, s),
        "t_nbsp": b"t=\xc2\xa0%d,v1=%s" % (T, s),
        "t_trailing_nel": b"t=%d\xc2\x85,v1=%s" % (T, s),
        "t_ideographic_space": b"t=\xe3\x80\x80%d,v1=%s" % (T, s),
        "t_bom": b"t=\xef\xbb\xbf%d,v1=%s" % (T, s),
        "t_plus": b"t=+%d,v1=%s" % (T, s),
        "t_leading_zero": b"t=0%d,v1=%s" % (T, s),
        "t_minus_zero": b"t=-0,v1=%s" % s,
        "t_minus_one": b"t=-1,v1=%s" % s,
        "t_negative": b"t=-12345,v1=%s" % s,
        "t_zero": b"t=0,v1=%s" % s,
        "t_underscore": b"t=1_785_000_312,v1=%s" % s,
        "t_fraction": b"t=%d.5,v1=%s" % (T, s),
        "t_exponent": b"t=1.7e9,v1=%s" % s,
        "t_hex": b"t=0x10,v1=%s" % s,
        "t_suffix": b"t=%dabc,v1=%s" % (T, s),
        "t_arabic_indic": "t=١٧٠٠٠٠٠٠٠٠,v1=".encode() + s,
        "t_fullwidth": "t=１７００,v1=".encode() + s,
        "t_milliseconds": b"t=%d000,v1=%s" % (T, s),
        "t_2p53": b"t=9007199254740992,v1=%s" % s,
        "t_2p53_plus_1": b"t=9007199254740993,v1=%s" % s,
        "t_int64_max": b"t=9223372036854775807,v1=%s" % s,
        "t_int64_min": b"t=-9223372036854775808,v1=%s" % s,
        "t_10p20": b"t=100000000000000000000,v1=%s" % s,
        "t_10p21": b"t=1000000000000000000000,v1=%s" % s,
        "t_4e18": b"t=4000000000000000000,v1=%s" % s,
        "t_4301_digits": b"t=" + b"1" * 4301 + b",v1=" + s,
        "t_4300_zeros": b"t=" + b"0" * 4299 + b"7,v1=" + s,
        "t_duplicate_same": b"t=%d,t=%d,v1=%s" % (T, T, s),
        "t_duplicate_differs": b"t=%d,t=%d,v1=%s" % (T, T + 1, s),
        "t_duplicate_zero_padded": b"t=%d,t=0%d,v1=%s" % (T, T, s),
        "t_double_equals": b"t=%d=%d,v1=%s" % (T, T, s),
        "v1_trailing_equals_junk": b"t=%d,v1=%s=junk" % (T, s),
        "keys_uppercase": b"T=%d,V1=%s" % (T, s),
        "key_space_v1": b"t=%d, v1=%s" % (T, s),
        "v1_uppercase_hex": b"t=%d,v1=%s" % (T, s.upper()),
        "v1_short": b"t=%d,v1=deadbeef" % T,
        "v1_long": b"t=%d,v1=%s00" % (T, s),
        "v1_non_ascii": b"t=%d,v1=%s\xc3\xa9" % (T, s[:62]),
        "v1_non_ascii_then_good": b"t=%d,v1=\xc3\xa9,v1=%s" % (T, s),
        "nul_in_header": b"t=%d\x00,v1=%s" % (T, s),
        "nul_in_v1": b"t=%d,v1=%s\x00" % (T, s[:63]),
        "v1_65_values": b"t=%d," % T + b",".join(b"v1=%064x" % i for i in range(64)) + b",v1=" + s,
        "v1_64_values": b"t=%d," % T + b",".join(b"v1=%064x" % i for i in range(63)) + b",v1=" + s,
    }
    base = b"t=%d,v1=%s" % (T, s)
    seeds["len_8192"] = base + b",x=" + b"a" * (8192 - len(base) - 3)
    seeds["len_8193"] = base + b",x=" + b"a" * (8193 - len(base) - 3)
    assert len(seeds["len_8192"]) == 8192 and len(seeds["len_8193"]) == 8193
    return seeds


def verify_seed(now, tol, secret, header, payload):
    """fuzz_verify layout: now, tolerance, |secret|, |header| (LE16), bytes."""
    assert len(secret) < 256 and len(header) < 65536
    return struct.pack("<qqBH", now, tol, len(secret), len(header)) + secret + header + payload


def verify_seeds():
    """name -> input for fuzz_verify."""
    seeds = {}
    for pname, p in sorted(payloads().items()):
        s = sig(SECRET, T, p)
        h = b"t=%d,v1=%s" % (T, s)
        seeds["valid_" + pname] = verify_seed(T + 10, 300, SECRET, h, p)
    p = payloads()["small_json"]
    s = sig(SECRET, T, p)
    h = b"t=%d,v1=%s" % (T, s)
    seeds.update({
        "age_equals_tolerance": verify_seed(T + 300, 300, SECRET, h, p),
        "age_tolerance_plus_one": verify_seed(T + 301, 300, SECRET, h, p),
        "tolerance_off_ancient": verify_seed(T + 10 ** 9, 0, SECRET, h, p),
        "tolerance_negative": verify_seed(T, -1, SECRET, h, p),
        "future_timestamp": verify_seed(T - 10 ** 6, 300, SECRET, h, p),
        "now_int64_max": verify_seed(2 ** 63 - 1, 2 ** 63 - 1, SECRET, h, p),
        "now_int64_min": verify_seed(-2 ** 63, 1, SECRET, h, p),
        "wrong_secret": verify_seed(T, 300, ROLLED, h, p),
        "rolled_secret": verify_seed(T, 300, ROLLED, h + b",v1=" + sig(ROLLED, T, p), p),
        "secret_trailing_newline": verify_seed(T, 300, SECRET + b"\n", h, p),
        "secret_blank": verify_seed(T, 300, b" \t\r\n", h, p),
        "secret_empty": verify_seed(T, 300, b"", h, p),
        "secret_nbsp": verify_seed(T, 300, b"\xc2\xa0", b"t=%d,v1=%s" % (T, sig(b"\xc2\xa0", T, p)), p),
        "secret_255_bytes": verify_seed(T, 300, b"k" * 255, b"t=%d,v1=%s" % (T, sig(b"k" * 255, T, p)), p),
        "payload_empty": verify_seed(T, 300, SECRET, b"t=%d,v1=%s" % (T, sig(SECRET, T, b"")), b""),
        "payload_tampered": verify_seed(T, 300, SECRET, h, p.replace(b"evt_1", b"evt_2")),
        "header_empty": verify_seed(T, 300, SECRET, b"", p),
        "t_leading_zero_signed_canonical": verify_seed(T, 300, SECRET, b"t=0%d,v1=%s" % (T, s), p),
        "t_plus_signed_canonical": verify_seed(T, 300, SECRET, b"t=+%d,v1=%s" % (T, s), p),
        "t_signed_raw_text": verify_seed(T, 300, SECRET, b"t=0%d,v1=%s" % (T, hmac.new(SECRET, b"0%d." % T + p, hashlib.sha256).hexdigest().encode()), p),
        "t_negative": verify_seed(-5, 0, SECRET, b"t=-5,v1=%s" % sig(SECRET, -5, p), p),
        "expired_and_bad_sig": verify_seed(T + 10000, 300, SECRET, b"t=%d,v1=%064d" % (T, 0), p),
    })
    for name, hdr in sorted(header_seeds().items()):
        if len(hdr) <= 600:
            seeds["hdr_" + name] = verify_seed(T + 5, 300, SECRET, hdr, b'{"id":"evt_1","object":"event"}')
    return seeds


def sign_seed(t, age, tol, pos, secret, payload):
    """fuzz_sign_verify layout: t, params (age | tol-1 << 32 | pos << 48), secret."""
    params = (age & 0xFFFFFFFF) | (((tol - 1) & 0xFFFF) << 32) | ((pos & 0xFFFF) << 48)
    return struct.pack("<qQB", t, params, len(secret)) + secret + payload


def sign_seeds():
    """name -> input for fuzz_sign_verify."""
    seeds = {}
    for pname, p in sorted(payloads().items()):
        seeds["realistic_" + pname] = sign_seed(T, 10, 300, 7, SECRET, p)
    p = payloads()["small_json"]
    seeds.update({
        "age_equals_tolerance": sign_seed(T, 300, 300, 0, SECRET, p),
        "age_over_tolerance": sign_seed(T, 301, 300, 1, SECRET, p),
        "future": sign_seed(T, -3600, 300, 2, SECRET, p),
        "t_zero": sign_seed(0, 0, 1, 3, SECRET, p),
        "t_minus_one": sign_seed(-1, 0, 1, 3, SECRET, p),
        "t_negative": sign_seed(-1785000312, 5, 10, 3, SECRET, p),
        "t_10p15_minus_1": sign_seed(10 ** 15 - 1, 0, 1, 3, SECRET, p),
        "t_2p53_plus_1": sign_seed(2 ** 53 + 1, 0, 1, 3, SECRET, p),
        "t_int64_max": sign_seed(2 ** 63 - 1, 0, 1, 3, SECRET, p),
        "t_int64_min": sign_seed(-2 ** 63, 0, 1, 3, SECRET, p),
        "secret_one_byte": sign_seed(T, 0, 1, 3, b"k", p),
        "secret_blank": sign_seed(T, 0, 1, 3, b"  ", p),
        "secret_empty": sign_seed(T, 0, 1, 3, b"", p),
        "secret_long": sign_seed(T, 0, 1, 3, b"s" * 200, p),
        "payload_empty": sign_seed(T, 0, 1, 0, SECRET, b""),
        "payload_one_byte": sign_seed(T, 0, 1, 0, SECRET, b"{"),
        "payload_nul": sign_seed(T, 0, 1, 0, SECRET, b"\x00\x00"),
    })
    return seeds


def write(target, seeds):
    """Replace corpus/<target>/ with these seeds."""
    d = os.path.join(CORPUS, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%s: %d seeds" % (target, len(seeds)))


if __name__ == "__main__":
    write("fuzz_header", header_seeds())
    write("fuzz_verify", verify_seeds())
    write("fuzz_sign_verify", sign_seeds())

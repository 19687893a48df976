#!/usr/bin/env python3
"""Seeds the fuzz corpora from testdata/ (idempotent)."""
import base64, hashlib, json, os, sys, glob

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "fuzz", "corpus")
vectors = os.path.join(root, "testdata", "vectors")

def put(target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

rfc = json.load(open(os.path.join(vectors, "rfc-vectors.json")))
wyche = json.load(open(os.path.join(vectors, "wycheproof-keys.json")))
keys = [v["jwk"] for v in rfc]
for v in rfc:
    put("jwk_str", json.dumps(v["jwk"]))
    put("fetch_response", json.dumps(v["jwk"]))
put("jwk_str", json.dumps({"keys": keys}))
put("fetch_response", json.dumps({"keys": keys}))
seen = set()
for v in wyche:
    kind = (v["kty"], v["crv"], v["private"])
    if kind in seen:
        continue
    seen.add(kind)
    put("jwk_str", json.dumps(v["jwk"]))
    put("pem", v["pem"])
    put("der", base64.b64decode(v["der_b64"]))
for p in glob.glob(os.path.join(root, "testdata", "keystores", "*.p12")) + glob.glob(os.path.join(root, "testdata", "keystores", "*.jks")):
    put("pkcs12", open(p, "rb").read())
for p in glob.glob(os.path.join(root, "testdata", "keystores", "*.der")):
    put("der", open(p, "rb").read())
for p in glob.glob(os.path.join(root, "testdata", "samples", "*.pem")):
    put("pem", open(p, "rb").read())
put("jwk_struct", b"\x00" * 64)
for name in ("rfc-jws.json",):
    for v in json.load(open(os.path.join(root, "testdata", "jws", name))):
        put("jws_verify", b"\x00" + v["token"].encode())
for t in json.load(open(os.path.join(root, "testdata", "jws", "jose-node.json")))["tokens"]:
    put("jws_verify", b"\x00" + t["token"].encode())
for header, claims in [
    ('{"alg":"HS256","kid":"h","typ":"at+jwt"}', '{"sub":"a","iss":"https://idp.example","aud":["api"],"exp":1800000600,"nbf":1799999999,"iat":1799999990}'),
    ('{"alg":"HS256","kid":"h","crit":["x"],"x":1}', '{"exp":1800000600,"sub":"a","aud":"api","iss":"https://idp.example"}'),
    ('{"alg":"HS256","jkt":"x","b64":true}', '{"exp":1.5e9}'),
]:
    put("jws_verify", b"\x01" + header.encode() + b"\x00" + claims.encode())
put("encrypted_pkcs8", b"\x30\x00")
# A few encrypted keys with tiny iteration counts (the fuzz target caps KDF work).
import subprocess, tempfile
with tempfile.TemporaryDirectory() as t:
    try:
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{t}/k.pem"], check=True, capture_output=True)
        for i, scheme in enumerate([["-v2", "aes-128-cbc"], ["-v2", "des3"], ["-v1", "PBE-SHA1-3DES"], ["-scrypt", "-scrypt_N", "16", "-scrypt_r", "1", "-scrypt_p", "1"]]):
            subprocess.run(["openssl", "pkcs8", "-topk8", "-in", f"{t}/k.pem", "-passout", "pass:password", "-iter", "8", "-outform", "DER", "-out", f"{t}/e{i}.der", *scheme], check=True, capture_output=True)
            put("encrypted_pkcs8", open(f"{t}/e{i}.der", "rb").read())
        # EC keys with explicit curve parameters (specifiedCurve), in every form.
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-pkeyopt", "ec_param_enc:explicit", "-out", f"{t}/x.pem"], check=True, capture_output=True)
        put("pem", open(f"{t}/x.pem", "rb").read())
        for i, form in enumerate([["pkey"], ["ec", "-param_enc", "explicit"], ["ec", "-param_enc", "explicit", "-pubout"], ["ec", "-param_enc", "explicit", "-pubout", "-conv_form", "compressed"]]):
            subprocess.run(["openssl", *form, "-in", f"{t}/x.pem", "-outform", "DER", "-out", f"{t}/x{i}.der"], check=True, capture_output=True)
            put("der", open(f"{t}/x{i}.der", "rb").read())
        # Keystores under the fuzz target's password, KDFs at one iteration, so the fuzzer
        # gets past the MAC into the bags.
        subprocess.run(["openssl", "req", "-x509", "-new", "-key", f"{t}/k.pem", "-subj", "/CN=fuzz", "-days", "2", "-out", f"{t}/c.pem"], check=True, capture_output=True)
        for i, extra in enumerate([[], ["-legacy"], ["-keypbe", "NONE", "-certpbe", "NONE"], ["-keypbe", "NONE", "-certpbe", "NONE", "-nomac"], ["-nomac"]]):
            subprocess.run(["openssl", "pkcs12", "-export", "-inkey", f"{t}/k.pem", "-in", f"{t}/c.pem", "-name", "alias", "-passout", "pass:password", "-noiter", "-nomaciter", "-out", f"{t}/s{i}.p12", *extra], check=True, capture_output=True)
            put("pkcs12", open(f"{t}/s{i}.p12", "rb").read())
    except (OSError, subprocess.CalledProcessError) as e:
        print("no openssl seeds:", e)
print("seeded", out)

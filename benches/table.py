#!/usr/bin/env python3
"""Prints one table from the criterion results of `cargo bench --bench convert` (engine and
RustCrypto floor cases) and of benches/peers (engine and josekit on the same inputs, in that
workspace's own run). Medians. Called by benches/compare.sh."""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent


def medians(criterion_dir):
    out = {}
    for bench in pathlib.Path(criterion_dir).glob("*/*/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        out[meta["full_id"]] = est["median"]["point_estimate"]
    return out


def fmt(ns):
    if ns is None:
        return ""
    return f"{ns:.0f} ns" if ns < 1000 else f"{ns / 1000:.2f} µs"


def ratio(a, b):
    return "" if a is None or b is None else f"{a / b:.2f}x"


main = medians(root / "target" / "criterion")
peers = medians(root / "benches" / "peers" / "target" / "criterion")
if not main:
    sys.exit("no results in target/criterion: run cargo bench --bench convert first")

rows = {}
verify = {k: v for k, v in peers.items() if k.startswith("verify/")}
layer = {k: v for k, v in main.items() if k.startswith("layer/")}
main = {k: v for k, v in main.items() if k not in layer}
peers = {k: v for k, v in peers.items() if k not in verify}
for full_id, ns in main.items():
    group, _, rest = full_id.partition("/")
    who, _, case = rest.partition("/")
    if group == "resolver":
        who, case = "engine", f"resolver {rest}"
    elif group == "kdf":
        case = f"{case} (KDF)"
    rows.setdefault(case, {})[who] = ns
for full_id, ns in peers.items():
    _, _, rest = full_id.partition("/")
    case, _, who = rest.rpartition("/")
    # peers/pkcs8_private_rsa2048/josekit -> pkcs8_private/rsa2048
    kind, _, key = case.rpartition("_")
    rows.setdefault(f"{kind}/{key}", {})[f"peer-{who}"] = ns

print("| case | engine | RustCrypto floor | engine / floor | josekit | engine / josekit (same run) |")
print("|---|---|---|---|---|---|")
for case in sorted(rows):
    r = rows[case]
    engine = r.get("engine", r.get("peer-engine"))
    print(
        f"| {case} | {fmt(engine)} | {fmt(r.get('floor'))} | {ratio(r.get('engine'), r.get('floor'))} "
        f"| {fmt(r.get('peer-josekit'))} | {ratio(r.get('peer-engine'), r.get('peer-josekit'))} |"
    )

if verify:
    print()
    print("| token verification | engine | engine, key prepared per token | jsonwebtoken | engine / jsonwebtoken |")
    print("|---|---|---|---|---|")
    algs = sorted({k.split("/")[1] for k in verify}, key=["RS256", "PS256", "ES256", "ES384", "EdDSA", "HS256"].index)
    for alg in algs:
        e, cold, j = (verify.get(f"verify/{alg}/{w}") for w in ("engine", "engine_cold", "jsonwebtoken"))
        print(f"| {alg} | {fmt(e)} | {fmt(cold)} | {fmt(j)} | {ratio(e, j)} |")
if layer:
    print()
    print("| VerifyLayer | verify_async | through the layer | overhead |")
    print("|---|---|---|---|")
    for alg in sorted({k.split("/")[1] for k in layer}):
        bare, through = layer.get(f"layer/{alg}/verify_async"), layer.get(f"layer/{alg}/layer")
        over = "" if bare is None or through is None else fmt(through - bare)
        print(f"| {alg} | {fmt(bare)} | {fmt(through)} | {over} |")

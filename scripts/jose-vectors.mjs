// Makes testdata/jws/jose-node.json: one token per algorithm signed by `jose` for Node.js,
// with the public JWK that verifies it. Run from a scratch directory where jose is
// installed (`npm install jose@6`):
//   node /path/to/repo/scripts/jose-vectors.mjs > testdata/jws/jose-node.json
// Claims use fixed times (iat 1800000000, exp 1800000600): tests verify at 1800000100.
import * as jose from 'jose';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const joseVersion = require('jose/package.json').version;

const asymmetric = [
  ['RS256', {}], ['RS384', {}], ['RS512', {}],
  ['PS256', {}], ['PS384', {}], ['PS512', {}],
  ['ES256', {}], ['ES384', {}], ['ES512', {}],
  ['EdDSA', { crv: 'Ed25519' }], ['Ed25519', {}],
];
const tokens = [];
for (const [alg, options] of asymmetric) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { ...options, extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  jwk.kid = `node-${alg}`;
  const claims = { sub: `signed with ${alg}`, iss: 'https://jose.example', aud: 'engine', iat: 1800000000, exp: 1800000600 };
  const token = await new jose.SignJWT(claims).setProtectedHeader({ alg, kid: jwk.kid, typ: 'JWT' }).sign(privateKey);
  tokens.push({ alg, jwk, claims, token });
}
for (const alg of ['HS256', 'HS384', 'HS512']) {
  const secret = await jose.generateSecret(alg, { extractable: true });
  const jwk = await jose.exportJWK(secret);
  jwk.kid = `node-${alg}`;
  const claims = { sub: `signed with ${alg}`, iss: 'https://jose.example', aud: 'engine', iat: 1800000000, exp: 1800000600 };
  const token = await new jose.SignJWT(claims).setProtectedHeader({ alg, kid: jwk.kid }).sign(secret);
  tokens.push({ alg, jwk, claims, token });
}
process.stdout.write(JSON.stringify({ jose: joseVersion, node: process.version, tokens }, null, 1) + '\n');

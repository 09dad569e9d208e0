#!/usr/bin/env node
// Independent check of the Ed25519 parts of the op-format golden vectors
// (docs/protocol.md §9) with Node's own crypto, not libsodium: the public
// key follows from the seed, and signing each signed_message with that key
// reproduces the signature byte for byte (Ed25519 is deterministic).
//
// Usage: node crosscheck_ed25519.js tests/vectors/op-v1.txt
'use strict';
const crypto = require('crypto');
const fs = require('fs');

const vals = {};
for (const line of fs.readFileSync(process.argv[2], 'utf8').split('\n')) {
	if (line.startsWith('#') || !line.includes('='))
		continue;
	const [k, v] = line.split('=');
	vals[k.trim()] = Buffer.from(v.trim(), 'hex');
}

// PKCS#8 and SPKI wrappers for a raw Ed25519 seed / public key (RFC 8410).
const pkcs8 = Buffer.concat([
	Buffer.from('302e020100300506032b657004220420', 'hex'), vals.seed]);
const priv = crypto.createPrivateKey({key: pkcs8, format: 'der', type: 'pkcs8'});
const pub = crypto.createPublicKey(priv);
const rawPub = pub.export({format: 'der', type: 'spki'}).subarray(12);

let passed = 0, failed = 0;
function check(name, ok) {
	if (ok) {
		passed++;
	} else {
		failed++;
		console.error(name + ': mismatch');
	}
}
check('public_key', rawPub.equals(vals.public_key));
for (const op of ['op1', 'op2']) {
	const msg = vals[op + '.signed_message'];
	const sig = crypto.sign(null, msg, priv);
	check(op + '.signature', sig.equals(vals[op + '.signature']));
	check(op + '.verify', crypto.verify(null, msg, pub, vals[op + '.signature']));
}
console.log(`crosscheck_ed25519.js: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

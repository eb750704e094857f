// Compares rag_tokens_estimate with real cl100k_base counts.
// Usage (needs npm; not part of the tests):
//   npm install js-tiktoken   (in a scratch dir, then NODE_PATH=it/node_modules)
//   node bench/ingest_tokens.js FILE... < estimates
// where estimates are lines "FILE COUNT" printed by bench/ingest.sh's
// token mode. Prints per-file and total relative error.
const { getEncoding } = require("js-tiktoken");
const fs = require("fs");
const enc = getEncoding("cl100k_base");
const est = {};
for (const l of fs.readFileSync(0, "utf8").split("\n")) {
  const m = l.match(/^(\S+) (\d+)$/);
  if (m) est[m[1]] = +m[2];
}
let R = 0, E = 0, lo = Infinity, hi = -Infinity;
for (const f of process.argv.slice(2)) {
  const r = enc.encode(fs.readFileSync(f, "utf8")).length;
  const e = est[f];
  if (e === undefined || r === 0) continue;
  const d = (e - r) / r * 100;
  lo = Math.min(lo, d); hi = Math.max(hi, d); R += r; E += e;
  console.log(`${f} real=${r} est=${e} ${d.toFixed(1)}%`);
}
console.log(`total real=${R} est=${E} ${((E - R) / R * 100).toFixed(1)}% ` +
            `range ${lo.toFixed(1)}%..${hi.toFixed(1)}%`);

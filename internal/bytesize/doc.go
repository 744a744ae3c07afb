// Package bytesize is the one grammar of sizes in Roadrunner: the config's
// sizes (node.max_payload, a function's max_payload) and rrnode bench
// --sizes are parsed by [Parse] and nothing else. The grammar — integer
// bytes, or a number and an IEC (KiB, 1024) or SI (kB, 1000) unit — is
// documented once, in docs/CONFIG.md ("Sizes"); [Grammar] is its summary
// for error messages, and the tests hold every case that page lists.
//
// Parse checks the grammar and that the size fits an int64; the range a
// size must be in is its caller's to check, and the caller's error names
// the field or flag. [Format] writes a size in the largest unit that
// divides it, so that Parse(Format(n)) == n.
package bytesize

// Package msg is the message format of the example pipeline
// (producer → transform → consumer): a fixed 16-byte little-endian header,
// then the body.
//
//	offset size field
//	0      4    magic "RRP1"
//	4      2    flags (bit 0: transformed; other bits must be zero)
//	6      2    hops: guest-to-guest sends the message has made, the one carrying it included
//	8      4    body length in bytes
//	12     4    CRC32C (Castagnoli) of the original body
//	16     n    body
//
// The producer writes the header with the CRC32C of the body it was given
// and one hop, its send. The transform checks it, scrambles the body in place
// with [Scramble] (an XOR with a keystream derived from the CRC, so applying
// it twice restores the body), sets [FlagTransformed] and counts its own send
// as a second hop. The consumer checks the header, unscrambles the body and
// compares its CRC32C with the header's, so that a payload corrupted,
// truncated or extended anywhere on the way is caught, and answers with a
// [Report].
//
// The package is pure Go without build tags: the guests (GOOS=wasip1) and the
// host side (the demo, the tests) share it. Nothing here allocates except
// [Append] growing its destination and the errors of failed checks.
package msg

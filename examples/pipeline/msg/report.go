package msg

import (
	"strconv"
	"unicode/utf8"
)

// Report is the consumer's answer: what it received and whether the body it
// restored matched the checksum the producer wrote. Its JSON form is the
// pipeline's HTTP reply.
type Report struct {
	Function string `json:"function"`
	Bytes    uint64 `json:"bytes"`  // body length
	CRC32C   string `json:"crc32c"` // CRC32C of the restored body, "0x%08x"
	Hops     int    `json:"hops"`   // the header's hop count on arrival
	Verified bool   `json:"verified"`
	Reason   string `json:"reason,omitempty"` // why not verified
}

// FormatCRC formats a CRC32C as a Report shows it: "0x" and eight lowercase
// hex digits.
func FormatCRC(c uint32) string { return string(AppendCRC(nil, c)) }

// AppendCRC appends c formatted as [FormatCRC] does.
func AppendCRC(dst []byte, c uint32) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '0', 'x')
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, hex[c>>uint(shift)&0xf])
	}
	return dst
}

// AppendJSON appends r as one JSON object that encoding/json decodes back
// into r. It uses no reflection: it runs in the consumer guest, into a
// reused buffer.
func (r *Report) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"function":`...)
	dst = appendString(dst, r.Function)
	dst = append(dst, `,"bytes":`...)
	dst = strconv.AppendUint(dst, r.Bytes, 10)
	dst = append(dst, `,"crc32c":`...)
	dst = appendString(dst, r.CRC32C)
	dst = append(dst, `,"hops":`...)
	dst = strconv.AppendInt(dst, int64(r.Hops), 10)
	dst = append(dst, `,"verified":`...)
	dst = strconv.AppendBool(dst, r.Verified)
	if r.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = appendString(dst, r.Reason)
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

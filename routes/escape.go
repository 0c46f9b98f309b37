package routes

// nextEscape returns the index of the first byte at or after i that a JSON
// string must escape (a quote, a backslash or a control character), or
// len(s). It tests eight bytes at a time: a restore is up to megabytes of
// base64 holding a handful of such bytes, and a byte-by-byte scan of it, done
// twice (to size the response, then to write it), was the largest cost of
// restoring 100 KB.
func nextEscape(s string, i int) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(s) {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		quote, backslash := x^(lo*'"'), x^(lo*'\\')
		// Each term has a byte's high bit set only for a byte below 0x20,
		// a quote or a backslash respectively (the usual "has a byte less
		// than" and "has a zero byte" tests); bytes of 0x80 and above
		// never match.
		if (x-lo*0x20)&^x&hi|(quote-lo)&^quote&hi|(backslash-lo)&^backslash&hi == 0 {
			i += 8
			continue
		}
		for end := i + 8; i < end; i++ {
			if mustEscape(s[i]) {
				return i
			}
		}
	}
	for ; i < len(s); i++ {
		if mustEscape(s[i]) {
			return i
		}
	}
	return len(s)
}

func mustEscape(c byte) bool { return c < 0x20 || c == '"' || c == '\\' }

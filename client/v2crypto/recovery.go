package v2crypto

import (
	"errors"
	"strings"
)

// crockford is Crockford's base32 alphabet: no I, L, O or U, so a code read
// aloud or copied by hand has fewer look-alikes.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// FormatRecoveryCode writes a 20-byte code as 32 characters in eight groups
// of four.
func FormatRecoveryCode(code []byte) (string, error) {
	if len(code) != RecoveryCodeSize {
		return "", errors.New("v2crypto: a recovery code is 20 bytes")
	}
	var b strings.Builder
	var acc uint64
	bits := 0
	n := 0
	for _, c := range code {
		acc = acc<<8 | uint64(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			if n > 0 && n%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(crockford[(acc>>bits)&31])
			n++
		}
	}
	return b.String(), nil
}

// ParseRecoveryCode reads a code as a person types it: any case, spaces and
// hyphens anywhere, I and L for 1, O for 0.
func ParseRecoveryCode(s string) ([]byte, error) {
	out := make([]byte, 0, RecoveryCodeSize)
	var acc uint64
	bits, n := 0, 0
	for _, r := range strings.ToUpper(s) {
		switch r {
		case ' ', '-', '\t':
			continue
		case 'I', 'L':
			r = '1'
		case 'O':
			r = '0'
		}
		v := strings.IndexRune(crockford, r)
		if v < 0 {
			return nil, errors.New("v2crypto: a recovery code has only letters and digits")
		}
		n++
		acc = acc<<5 | uint64(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	if n != 32 || len(out) != RecoveryCodeSize {
		return nil, errors.New("v2crypto: a recovery code has 32 letters and digits")
	}
	return out, nil
}

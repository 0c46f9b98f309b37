package server

import "crypto/tls"

// tls12CipherSuites are the TLS 1.2 suites the server accepts: ECDHE key
// exchange (forward secrecy) with an AEAD cipher, as in Mozilla's
// "intermediate" profile. Go's defaults also allow CBC-mode suites, which
// every browser that speaks TLS 1.2 can do without. TLS 1.3 suites are all
// AEAD and not configurable, and Go picks 1.3 whenever the client offers it.
var tls12CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// hardenTLS applies the server's TLS policy to the configuration PocketBase
// serves HTTPS with (`serve example.com`): TLS 1.2 at the least, and only the
// suites above for 1.2. It only tightens: a floor already above 1.2 stays.
// The certificate source (Let's Encrypt through autocert) is left alone.
func hardenTLS(c *tls.Config) {
	if c == nil {
		return
	}
	c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
	c.CipherSuites = tls12CipherSuites
}

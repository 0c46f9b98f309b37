// Package hooks holds the request middlewares of the API, each a constructor
// with a fixed Id and Priority so that the route table in package routes
// binds each once and their order is explicit.
//
// The order, outermost first: query redaction (router-wide, before
// PocketBase's logger and CORS; the URL that logger records is masked just
// inside it), access log, error shape, security headers,
// client address, origin check and CORS, per-address bucket (no database work
// before it), body read with its cap, signature.
package hooks

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Priorities: lower runs first (outermost). PocketBase's own CORS is -1041
// and its request logger -1040; both are unbound from the API group.
const (
	PriorityRedactQuery     = -1100
	PriorityRedactLoggedURL = -1039 // just inside PocketBase's request logger (-1040)
	PriorityAccessLog       = -1090
	PriorityErrorShape      = -1080
	PrioritySecurityHeaders = -1075
	PriorityClientIP        = -1070
	PriorityCORS            = -1060
	PriorityIPLimit         = -1050
	PriorityReadBody        = -980
	PrioritySignature       = -970
	PriorityRouteLimit      = -1045
)

// Ids.
const (
	IdRedactQuery     = "drRedactQuery"
	IdRedactLoggedURL = "drRedactLoggedURL"
	IdAccessLog       = "drAccessLog"
	IdErrorShape      = "drErrorShape"
	IdSecurityHeaders = "drSecurityHeaders"
	IdClientIP        = "drClientIP"
	IdCORS            = "drCORS"
	IdIPLimit         = "drIPLimit"
	IdReadBody        = "drReadBody"
	IdSignature       = "drSignature"
)

// Keys of values middlewares leave in the request event's store.
const (
	keyQuery     = "dr.query"
	keyRawQuery  = "dr.rawQuery"
	keyBody      = "dr.body"
	keyBodyHash  = "dr.bodyHash"
	keyBodyRead  = "dr.bodyRead"
	keyClientIP  = "dr.clientIP"
	keyRequestID = "dr.requestID"
	keyReplay    = "dr.replay"
)

// Fail is the error a middleware or handler returns to refuse a request; the
// error-shape middleware writes it as {"error": message}. message must never
// contain request input.
func Fail(status int, message string) error {
	return router.NewApiError(status, message, nil)
}

// ClientIP is the client address the request was attributed to.
func ClientIP(e *core.RequestEvent) string {
	s, _ := e.Get(keyClientIP).(string)
	return s
}

// Body is the request body read by ReadBody. Its bytes are valid until the
// handler returns (a large body is unmapped then): keep a copy, never the
// slice or a string that views it.
func Body(e *core.RequestEvent) []byte {
	b, _ := e.Get(keyBody).([]byte)
	return b
}

// TakeBody is Body for its one consumer, which decodes it: the event lets go
// of it, so that the bytes can be collected once decoded. A save holds its
// decoded data through the wait for the database's writer; keeping the
// body as well doubled what each large upload held all that time.
func TakeBody(e *core.RequestEvent) []byte {
	b := Body(e)
	e.Set(keyBody, nil)
	return b
}

// bodyRead is how many body bytes ReadBody took from the connection: the
// body's length, or more for one refused as too large.
func bodyRead(e *core.RequestEvent) int64 {
	n, _ := e.Get(keyBodyRead).(int64)
	return n
}

// RequestID is the id the access log gave the request.
func RequestID(e *core.RequestEvent) string {
	s, _ := e.Get(keyRequestID).(string)
	return s
}

func isStateChanging(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

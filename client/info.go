package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Registration policies a server may report.
const (
	RegistrationOpen   = "open"
	RegistrationClosed = "closed"
	RegistrationInvite = "invite"
)

// ServerInfo is the server's public description of itself.
type ServerInfo struct {
	Version           string          `json:"version"`
	MaxBackupBytes    int64           `json:"maxBackupBytes"`
	UserQuotaBytes    int64           `json:"userQuotaBytes"`
	HistoryDepth      int             `json:"historyDepth"`
	Registration      string          `json:"registration"`
	SignatureRequired bool            `json:"signatureRequired"`
	Limits            json.RawMessage `json:"limits"`
	Protocols         []string        `json:"protocols"` // "v1", and "v2" on servers that speak it
	ServerTime        time.Time       `json:"-"`
}

// UnmarshalJSON accepts serverTime as Unix seconds or as RFC 3339, since
// the contract names the member without fixing its form.
func (s *ServerInfo) UnmarshalJSON(data []byte) error {
	type fields ServerInfo
	var wire struct {
		fields
		ServerTime json.RawMessage `json:"serverTime"`
	}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	serverTime, err := parseServerTime(wire.ServerTime)
	if err != nil {
		return err
	}
	*s = ServerInfo(wire.fields)
	s.ServerTime = serverTime
	return nil
}

func parseServerTime(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		return time.Parse(time.RFC3339Nano, text)
	}
	var seconds float64
	if err := json.Unmarshal(raw, &seconds); err != nil {
		return time.Time{}, fmt.Errorf("client: serverTime %s is neither Unix seconds nor RFC 3339", raw)
	}
	whole, frac := math.Modf(seconds)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC(), nil
}

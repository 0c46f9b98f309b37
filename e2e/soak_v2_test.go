package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// soakV2Client is a protocol v2 client in the soak: it signs in again every
// fifty requests (logging out half the time, leaving the other sessions to
// expire), saves its backups at the next version, restores, lists and
// reads its account, and now and then a wrong password.
func soakV2Client(t *testing.T, a *api, c int, pace time.Duration, stop chan struct{}, served, notFound *atomic.Int64) {
	m := newV2Material(fmt.Sprintf("soak-v2-%d", c))
	tick := time.NewTicker(pace)
	defer tick.Stop()
	token := ""
	versions := map[string]int64{}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		backup := backupID(fmt.Sprintf("soak-v2-%d-%d", c, i/6%3))
		var st int
		var err error
		want := []int{http.StatusOK}
		switch {
		case i == 0:
			st, token, err = a.v2Register(m)
		case i%50 == 49:
			if i%100 == 49 {
				if st, _, err = a.v2("POST", "/api/v2/logout", token, nil); err != nil || st != http.StatusOK {
					break
				}
			}
			st, token, err = a.v2Login(m.AccountID, m.Auth)
		case i%6 == 0:
			st, err = a.v2Put(token, backup, versions[backup]+1, v2Data(fmt.Sprint(c, "/", i), 4<<10+i%16<<10))
			if err == nil && st == http.StatusOK {
				versions[backup]++
			}
		case i%6 == 1:
			st, _, err = a.v2Get(token, backup, 0)
			want = []int{http.StatusOK, http.StatusNotFound}
		case i%6 == 2:
			st, _, err = a.v2("GET", "/api/v2/backups/"+backup+"/versions", token, nil)
			want = []int{http.StatusOK, http.StatusNotFound}
		case i%6 == 3:
			st, _, err = a.v2("GET", "/api/v2/backups", token, nil)
		case i%6 == 4:
			st, _, err = a.v2("GET", "/api/v2/account", token, nil)
		default:
			st, _, err = a.v2("POST", "/api/v2/login", "", map[string]any{"accountId": m.AccountID, "auth": m.RecoveryAuth})
			want = []int{http.StatusUnauthorized}
		}
		if err != nil || !slices.Contains(want, st) {
			t.Errorf("v2 client %d request %d: %d %v", c, i, st, err)
			return
		}
		served.Add(1)
		if st == http.StatusNotFound {
			notFound.Add(1)
		}
	}
}

//go:build dailyreps_unsafe_synchronous_normal

package sqlite

import (
	"fmt"
	"os"
)

// dataSynchronous is NORMAL in this build only: commits are not synced, so
// a power cut loses acknowledged saves. It exists for the power-loss test's
// negative control (e2e/powerloss_test.go), which must see saves lost to
// prove that it can; never build a release with this tag.
const dataSynchronous = "NORMAL"

func init() {
	fmt.Fprintln(os.Stderr, "UNSAFE TEST BUILD: data.db runs with synchronous=NORMAL; a power cut loses acknowledged saves")
}

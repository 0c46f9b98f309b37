//go:build !dailyreps_unsafe_synchronous_normal

package sqlite

// dataSynchronous is data.db's synchronous setting. It is a constant: no
// configuration can weaken it. Only the power-loss test's negative control
// builds the server with NORMAL (synchronous_unsafe.go), to show that the
// test notices lost saves.
const dataSynchronous = "FULL"

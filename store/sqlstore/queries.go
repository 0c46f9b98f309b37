package sqlstore

import "fmt"

// queries holds the statements that name dialect-specific columns, built once.
type queries struct {
	register, lockUser                              string
	backupForSave, insertBackup, updateBackup       string
	condUpdateBackup, getNewest, getNewestAtVersion string
	listNewest                                      string
}

func buildQueries(d Dialect) queries {
	return queries{
		register: fmt.Sprintf(`INSERT INTO users (id, %s) VALUES ({:user}, {:now}) ON CONFLICT DO NOTHING`, d.Created),
		lockUser: `SELECT id FROM users WHERE id = {:user} ` + d.LockUser,

		backupForSave: fmt.Sprintf(`SELECT user_id, version, %s FROM backups WHERE storage_key = {:key}`, d.Updated),
		insertBackup: fmt.Sprintf(`INSERT INTO backups (storage_key, user_id, encrypted_data, version, size, %s, %s)
			VALUES ({:key}, {:user}, {:data}, 1, {:size}, {:now}, {:now}) ON CONFLICT (storage_key) DO NOTHING`, d.Created, d.Updated),
		updateBackup: fmt.Sprintf(`UPDATE backups SET encrypted_data = {:data}, version = version + 1, size = {:size}, %s = {:now}
			WHERE storage_key = {:key}`, d.Updated),
		condUpdateBackup: fmt.Sprintf(`UPDATE backups SET encrypted_data = {:data}, version = version + 1, size = {:size}, %s = {:now}
			WHERE storage_key = {:key} AND version = {:ifMatch}`, d.Updated),

		getNewest: fmt.Sprintf(`SELECT encrypted_data, version, %s FROM backups
			WHERE storage_key = {:key} AND user_id = {:user}`, d.Updated),
		getNewestAtVersion: fmt.Sprintf(`SELECT encrypted_data, version, %s FROM backups
			WHERE storage_key = {:key} AND user_id = {:user} AND version = {:version}`, d.Updated),
		listNewest: fmt.Sprintf(`SELECT version, %s, size FROM backups
			WHERE storage_key = {:key} AND user_id = {:user}`, d.Updated),
	}
}

// copyToHistory moves the newest version of a backup into its history; the
// blob is copied inside the database, never through Go.
const copyToHistory = `INSERT INTO backup_history (storage_key, user_id, version, encrypted_data, size, updated)
	SELECT storage_key, user_id, version, encrypted_data, size, {:updated} FROM backups WHERE storage_key = {:key}`

const userBytes = `SELECT COALESCE((SELECT SUM(size) FROM backups WHERE user_id = {:user}), 0) +
	COALESCE((SELECT SUM(size) FROM backup_history WHERE user_id = {:user}), 0)`

const backupBytes = `SELECT COALESCE((SELECT SUM(size) FROM backups WHERE storage_key = {:key}), 0) +
	COALESCE((SELECT SUM(size) FROM backup_history WHERE storage_key = {:key}), 0)`

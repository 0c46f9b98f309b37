package sqlstore

import "fmt"

// The layout: backups holds one small row of metadata per backup (user, key,
// newest version and its size, times, the creating address's tag);
// backup_versions holds every version, the newest included, each written
// once and keyed by (backup_id, version). Sizes, counts and version lists
// are read from backup_versions' covering index, never from a row that holds
// a blob.

// queries holds the statements that name dialect-specific columns, built once.
type queries struct {
	register, lockUser                string
	lockUserBackup, insertBackup      string
	updateBackup, getNewest, getAtVer string
	listBackups                       string
}

func buildQueries(d Dialect) queries {
	lockUserBackup := d.LockUserBackup
	if lockUserBackup == "" {
		// A save's first statement (see Dialect.LockUserBackup): the backup's
		// id, newest version and the bytes of its versions if it exists
		// (NULLs if not; no row: no user). The bytes come from the sizes'
		// covering index, and spare most saves the quota's walk.
		lockUserBackup = `SELECT b.id, b.version,
			(SELECT SUM(size) FROM backup_versions WHERE backup_id = b.id) FROM users
			LEFT JOIN backups b ON b.user_id = users.id AND b.storage_key = {:key}
			WHERE users.id = {:user}`
	}
	return queries{
		register: fmt.Sprintf(`INSERT INTO users (id, %s) VALUES ({:user}, {:now}) ON CONFLICT DO NOTHING`, d.Created),
		lockUser: `SELECT id FROM users WHERE id = {:user} ` + d.LockUser,

		lockUserBackup: lockUserBackup,
		insertBackup: fmt.Sprintf(`INSERT INTO backups (storage_key, user_id, version, size, creator, name, %s, %s)
			VALUES ({:key}, {:user}, 1, {:size}, {:creator}, {:name}, {:now}, {:now}) RETURNING id`, d.Created, d.Updated),
		updateBackup: fmt.Sprintf(`UPDATE backups SET version = {:version}, size = {:size}, %s = {:now}
			WHERE id = {:id} AND version = {:current}`, d.Updated),

		getNewest: `SELECT v.encrypted_data, v.version, v.updated, b.legacy_key FROM backups b
			JOIN backup_versions v ON v.backup_id = b.id AND v.version = b.version
			WHERE b.user_id = {:user} AND b.storage_key = {:key}`,
		// An account's backups from their metadata rows alone: the newest
		// version's number, size and time are kept there.
		listBackups: fmt.Sprintf(`SELECT name, version, size, %[1]s FROM backups
			WHERE user_id = {:user} AND name <> '' ORDER BY %[1]s DESC, name`, d.Updated),

		getAtVer: `SELECT v.encrypted_data, v.version, v.updated, b.legacy_key FROM backups b
			JOIN backup_versions v ON v.backup_id = b.id AND v.version = {:version}
			WHERE b.user_id = {:user} AND b.storage_key = {:key}`,
	}
}

const insertVersion = `INSERT INTO backup_versions (backup_id, version, size, updated, encrypted_data)
	VALUES ({:id}, {:version}, {:size}, {:at}, {:data})`

// versionSizes lists a backup's versions, newest first, from the covering index.
const versionSizes = `SELECT version, size FROM backup_versions WHERE backup_id = {:id} ORDER BY version DESC`

const dropVersions = `DELETE FROM backup_versions WHERE backup_id = {:id} AND version <= {:oldest}`

const dropVersion = `DELETE FROM backup_versions WHERE backup_id = {:id} AND version = {:version}`

const listVersions = `SELECT v.version, v.updated, v.size FROM backups b
	JOIN backup_versions v ON v.backup_id = b.id
	WHERE b.user_id = {:user} AND b.storage_key = {:key} ORDER BY v.version DESC`

// userUsage counts a user's backups, versions and bytes.
const userUsage = `SELECT COUNT(DISTINCT b.id), COUNT(*), COALESCE(SUM(v.size), 0) FROM backups b
	JOIN backup_versions v ON v.backup_id = b.id WHERE b.user_id = {:user}`

// creatorNewestBytes sums the newest versions of the user's backups created
// from one address.
const creatorNewestBytes = `SELECT COALESCE(SUM(v.size), 0) FROM backups b
	JOIN backup_versions v ON v.backup_id = b.id AND v.version = b.version
	WHERE b.user_id = {:user} AND b.creator = {:creator}`

const countBackups = `SELECT COUNT(*), COALESCE(SUM(CASE WHEN creator = {:creator} THEN 1 ELSE 0 END), 0)
	FROM backups WHERE user_id = {:user}`

// Package migrations defines the schema of the SQLite store as PocketBase
// migrations: the users and backups collections (so admins see them, with
// their record counts, in the dashboard) and raw tables for what admins need
// not browse.
package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// hexID matches a peppered id: lowercase hex HMAC-SHA-256.
const hexID = "^[a-f0-9]{64}$"

func init() {
	m.Register(upCollections, downCollections, "1764100000_collections.go")
}

func upCollections(app core.App) error {
	// PocketBase's init migration creates an auth collection named users
	// with public sign-up; ours is a plain collection of peppered ids.
	if old, err := app.FindCollectionByNameOrId("users"); err == nil {
		if err := app.Delete(old); err != nil {
			return err
		}
	}

	users := core.NewBaseCollection("users", "dr_users")
	users.Fields.RemoveByName("id")
	users.Fields.Add(
		&core.TextField{Name: "id", System: true, PrimaryKey: true, Required: true, Min: 64, Max: 64, Pattern: hexID},
		&core.AutodateField{Name: "created", OnCreate: true},
	)
	// Nil rules: superusers only, so the generic records API exposes nothing.
	users.ListRule, users.ViewRule, users.CreateRule, users.UpdateRule, users.DeleteRule = nil, nil, nil, nil, nil
	if err := app.Save(users); err != nil {
		return err
	}

	backups := core.NewBaseCollection("backups", "dr_backups")
	backups.Fields.Add(
		&core.TextField{Name: "storage_key", Required: true, Min: 64, Max: 64, Pattern: hexID},
		&core.RelationField{Name: "user_id", Required: true, CollectionId: users.Id, CascadeDelete: true, MaxSelect: 1},
		// Data is written by the store with raw SQL after its own checks;
		// this max only bounds edits made in the dashboard.
		&core.TextField{Name: "encrypted_data", Required: true, Max: 16 << 20},
		&core.NumberField{Name: "version", OnlyInt: true},
		&core.NumberField{Name: "size", OnlyInt: true},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	backups.AddIndex("idx_backups_storage_key", true, "storage_key", "")
	backups.AddIndex("idx_backups_user_id", false, "user_id", "")
	return app.Save(backups)
}

func downCollections(app core.App) error {
	for _, name := range []string{"backups", "users"} {
		c, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			continue
		}
		if err := app.Delete(c); err != nil {
			return err
		}
	}
	return nil
}

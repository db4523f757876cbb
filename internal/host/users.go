package host

import "github.com/fpmdoctor/fpmdoctor/internal/ident"

// The user database lives in internal/ident, a leaf package the fast-start
// probe can import; these names keep host's API whole.
type (
	// Users is the user and group database (/etc/passwd, /etc/group).
	Users = ident.Users
	// User is a passwd entry.
	User = ident.User
	// Group is a group entry.
	Group = ident.Group
)
